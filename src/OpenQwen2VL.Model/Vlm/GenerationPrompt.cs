using OpenQwen2VL.Model.Generation;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>One row of a generation batch (tensors owned by the caller).</summary>
/// <param name="Ids">prompt token ids, each <see cref="VlmBatch.ImageMarker"/> where an image goes</param>
/// <param name="Pixels">[n, C, S, S] this row's images in order of their markers, or null without images</param>
/// <param name="Stop">when this row stops (null: at its token budget)</param>
/// <param name="ImageTokens">[n, T, Dl] this row's images already projected (<see cref="VisionLanguageModel.ProjectImages"/>),
/// in place of <paramref name="Pixels"/>, for images shared by several prompts</param>
public sealed record GenerationPrompt(long[] Ids, Tensor? Pixels = null, StopCriteria? Stop = null, Tensor? ImageTokens = null)
{
    /// <summary>How many images the row brings, as pixels or as projected tokens (one or the other).</summary>
    public long ImageCount => Pixels is not null && ImageTokens is not null
        ? throw new ArgumentException("a prompt gives its images as pixels or as projected tokens, not both")
        : ImageTokens?.shape[0] ?? Pixels?.shape[0] ?? 0;
}
