namespace OpenQwen2VL.Data.Prompts;

/// <summary>How prompts are written for a model or in a data folder; recorded in manifests so later stages agree.</summary>
public static class PromptFormats
{
    /// <summary>Pre-training samples: <c>&lt;s&gt; &lt;image&gt; \n caption &lt;|im_end|&gt;</c> (packed data).</summary>
    public const string Caption = "caption";
    /// <summary>A pre-trained model's prompts: plain text after <c>&lt;s&gt;</c>, images where <c>&lt;image&gt;</c> stands.</summary>
    public const string Plain = "plain";
    /// <summary>Qwen2 ChatML with the system turn, as our SFT trains (<see cref="ChatMlPromptBuilder"/>).</summary>
    public const string ChatMl = "chatml";
}
