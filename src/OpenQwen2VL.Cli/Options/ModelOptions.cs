using System.CommandLine;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Model.Vlm;

namespace OpenQwen2VL.Cli.Options;

/// <summary>How prompts are written to a model.</summary>
public enum PromptFormatChoice
{
    /// <summary><c>&lt;s&gt;</c> then the prompt: a pre-trained model.</summary>
    Plain,
    /// <summary>Qwen2 ChatML with the system turn, as our SFT trains.</summary>
    Chatml,
    /// <summary>The released Open-Qwen2VL model's own chat format (<c>&lt;s&gt;</c> first, its system turn, <c>&lt;|im_end|&gt;assistant\n</c>).</summary>
    OpenQwen2vl,
}

public static class PromptFormatChoiceNames
{
    /// <summary>The manifest's name of the format (<see cref="PromptFormats"/>).</summary>
    public static string ManifestName(this PromptFormatChoice choice) => choice switch
    {
        PromptFormatChoice.Chatml => PromptFormats.ChatMl,
        PromptFormatChoice.OpenQwen2vl => PromptFormats.OpenQwen2VL,
        _ => PromptFormats.Plain,
    };
}

/// <summary>
/// The model options of every command that runs a model (generate, evaluate), added in one place so they are spelled,
/// described and loaded alike: <c>--model</c> or <c>--llm/--vision/--projector</c>, <c>--tokenizer</c>,
/// <c>--visual-tokens</c>, <c>--prompt-format</c>, <c>--dtype</c>, <c>--device</c>.
/// </summary>
public sealed class ModelOptions
{
    public Option<string?> Model { get; } = CommonOptions.Model();
    public Option<string?> Llm { get; } = CommonOptions.Llm();
    public Option<string?> Vision { get; } = CommonOptions.Vision();
    public Option<string?> Projector { get; } = CommonOptions.Projector();
    public Option<string?> Tokenizer { get; } = CommonOptions.Tokenizer();
    public Option<int?> VisualTokens { get; } = CommonOptions.VisualTokens("visual tokens per image (default: the model's own, else the full patch grid)");
    public Option<PromptFormatChoice?> PromptFormat { get; } =
        CommonOptions.OptionalEnum<PromptFormatChoice>("--prompt-format", "how prompts are written: plain, chatml (our SFT) or open-qwen2vl (the released model's) (default: the model's manifest; a released .pt: open-qwen2vl)");
    public Option<DTypeChoice> DType { get; } = CommonOptions.DType();
    public Option<string> Device { get; } = CommonOptions.Device();

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Llm, Vision, Projector, Tokenizer, VisualTokens, PromptFormat, DType, Device }) command.Options.Add(o);
    }

    /// <summary>Resolves and loads the model the options name (one code path for every source); load reports go to <paramref name="log"/>.</summary>
    public LoadedVlm Load(ParseResult r, TextWriter log)
    {
        var source = ModelSourceResolver.Resolve(new ModelRequest
        {
            Model = r.GetValue(Model), Llm = r.GetValue(Llm), Vision = r.GetValue(Vision), Projector = r.GetValue(Projector), Tokenizer = r.GetValue(Tokenizer),
            Warn = log.WriteLine,
        });
        var loaded = VlmLoader.Load(source, new VlmLoadSettings
        {
            DType = r.GetValue(DType).ToScalarType(), Device = CommonOptions.ToDevice(r.GetValue(Device)!), VisualTokens = r.GetValue(VisualTokens),
        });
        log.WriteLine($"model: {source.Description}; {loaded.VisualTokens} visual tokens per image");
        foreach (var report in loaded.Reports) log.WriteLine($"loaded {report}");
        if (loaded.AddedTokens.Count > 0)
            log.WriteLine($"added special tokens {string.Join(" ", loaded.AddedTokens)}" + (loaded.EmbeddingsResized ? $", embeddings resized to {loaded.Tokenizer.VocabSize}" : ""));
        return loaded;
    }

    /// <summary>The prompt format: the flag, else the model's manifest, else <paramref name="fallback"/>.</summary>
    public PromptFormatChoice Format(ParseResult r, LoadedVlm model, PromptFormatChoice fallback) =>
        r.GetValue(PromptFormat) ?? model.Source.PromptFormat switch
        {
            PromptFormats.ChatMl => PromptFormatChoice.Chatml,
            PromptFormats.Plain or PromptFormats.Caption => PromptFormatChoice.Plain,
            PromptFormats.OpenQwen2VL => PromptFormatChoice.OpenQwen2vl,
            _ => fallback,
        };
}
