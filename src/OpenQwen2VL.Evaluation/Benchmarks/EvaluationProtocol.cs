using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Evaluation.Benchmarks;

/// <summary>Which rules turn a model's output into the answer that is written and scored.</summary>
public enum EvaluationProtocolKind
{
    /// <summary>The benchmark's own protocol: the model's prompt format, answers post-processed as EvalAI submissions are.</summary>
    Official,
    /// <summary>Open-Qwen2VL's reference harness: plain prompt, stop on <c>,</c> <c>.</c> newline, delete <c>.</c> and <c>,</c>, lower-case.</summary>
    OpenQwen2VL,
}

/// <summary>
/// A named evaluation protocol for short-answer benchmarks: the prompt style it forces (if any), the extra texts
/// generation stops on, and how a generated text becomes the answer that goes into the results file. The metric
/// itself is always the benchmark's official one, applied to that written answer, so a summary equals what the
/// official code gives on the results file.
/// </summary>
public sealed class EvaluationProtocol
{
    public static readonly EvaluationProtocol Official = new(EvaluationProtocolKind.Official, "official", null, []);

    /// <summary>The reference's VQAv2 harness sends the plain prompt even to the SFT model and stops on these tokens.</summary>
    public static readonly EvaluationProtocol OpenQwen2VL = new(EvaluationProtocolKind.OpenQwen2VL, "open-qwen2vl", VqaPromptStyle.Plain, [",", ".", "\n"]);

    private EvaluationProtocol(EvaluationProtocolKind kind, string name, VqaPromptStyle? style, IReadOnlyList<string> stopTexts) =>
        (Kind, Name, ForcedStyle, StopTexts) = (kind, name, style, stopTexts);

    public EvaluationProtocolKind Kind { get; }
    /// <summary>The name recorded in summaries and accepted by <c>--protocol</c>.</summary>
    public string Name { get; }
    /// <summary>A prompt style the protocol requires whatever the model's format; null: the model's own.</summary>
    public VqaPromptStyle? ForcedStyle { get; }
    /// <summary>Texts, each one token, that end generation besides the model's end tokens.</summary>
    public IReadOnlyList<string> StopTexts { get; }

    public static EvaluationProtocol For(EvaluationProtocolKind kind) => kind == EvaluationProtocolKind.Official ? Official : OpenQwen2VL;

    public VqaPromptStyle Style(VqaPromptStyle modelStyle) => ForcedStyle ?? modelStyle;

    /// <summary>
    /// The answer to write for a generated text: cut at the first line break or end token, then either the
    /// benchmark's official post-processing (<paramref name="officialProcessing"/>, e.g. EvalAI's for VQAv2) or the
    /// reference's deletion of every <c>.</c> and <c>,</c> and lower-casing.
    /// </summary>
    public string Answer(string generated, Func<string, string> officialProcessing)
    {
        string cut = VqaEvaluationRunner.CutAnswer(generated);
        return Kind == EvaluationProtocolKind.Official
            ? officialProcessing(cut)
            : cut.Replace(".", "").Replace(",", "").ToLowerInvariant().Trim();
    }
}
