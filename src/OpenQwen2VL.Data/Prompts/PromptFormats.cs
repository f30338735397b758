namespace OpenQwen2VL.Data.Prompts;

/// <summary>How prompts are written for a model or in a data folder; recorded in manifests so later stages agree.</summary>
public static class PromptFormats
{
    /// <summary>Pre-training samples: <c>&lt;s&gt; &lt;image&gt; \n caption &lt;|im_end|&gt;</c> (packed data).</summary>
    public const string Caption = "caption";
    /// <summary>Interleaved documents: <c>&lt;s&gt;</c>, <c>&lt;image&gt; \n</c> per image, each text chunk ended by <c>&lt;|endofchunk|&gt;</c> (packed data).</summary>
    public const string Interleaved = "interleaved";
    /// <summary>A pre-trained model's prompts: plain text after <c>&lt;s&gt;</c>, images where <c>&lt;image&gt;</c> stands.</summary>
    public const string Plain = "plain";
    /// <summary>Qwen2 ChatML with the system turn, as our SFT trains (<see cref="ChatMlPromptBuilder"/>).</summary>
    public const string ChatMl = "chatml";
    /// <summary>The released Open-Qwen2VL model's own chat format, byte for byte (<see cref="OpenQwen2VLPromptBuilder"/>).</summary>
    public const string OpenQwen2VL = "open-qwen2vl";

    public static readonly IReadOnlyList<string> All = [Caption, Interleaved, Plain, ChatMl, OpenQwen2VL];

    /// <summary>Whether a model trained in this format saw <c>&lt;s&gt;</c> first (so prompts to it must start with it, once).</summary>
    public static bool StartsWithBos(string format) => format is Caption or Interleaved or Plain or OpenQwen2VL;
}
