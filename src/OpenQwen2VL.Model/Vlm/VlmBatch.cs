using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// A model-ready batch. Sequences are right-padded (causal attention makes a padding mask
/// unnecessary); each <see cref="ImageMarker"/> in <see cref="InputIds"/> is replaced in place by the
/// projected tokens of the next image in <see cref="PixelValues"/> or <see cref="ImageTokens"/> (row-major over the batch).
/// </summary>
public sealed class VlmBatch : IDisposable
{
    public const long ImageMarker = -200;
    public const long IgnoreIndex = -100;

    /// <summary>[B, L] int64 token ids with image markers.</summary>
    public required Tensor InputIds { get; init; }
    /// <summary>[B, L] int64 labels, -100 where no loss (images, padding, prompts).</summary>
    public required Tensor Labels { get; init; }
    /// <summary>[N, 3, S, S] float pixels of all images in order of appearance, or null when there are none.</summary>
    public Tensor? PixelValues { get; init; }
    /// <summary>
    /// [N, T, Dl] the images already through the vision tower and projector (<see cref="VisionLanguageModel.ProjectImages"/>),
    /// in place of <see cref="PixelValues"/>: a caller that splices the same images into several prompts runs the tower once.
    /// </summary>
    public Tensor? ImageTokens { get; init; }
    /// <summary>
    /// [B, L] int64 on the CPU (only the splice plan reads it): which packed sequence of its row each token belongs to,
    /// -1 at padding (see <see cref="Qwen2.PackedSegments"/>); null: one sequence per row, plain causal attention.
    /// </summary>
    public Tensor? SegmentIds { get; init; }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        PixelValues?.Dispose();
        ImageTokens?.Dispose();
        SegmentIds?.Dispose();
    }
}
