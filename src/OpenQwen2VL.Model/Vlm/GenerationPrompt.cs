using OpenQwen2VL.Model.Generation;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>One row of a generation batch (tensors owned by the caller).</summary>
/// <param name="Ids">prompt token ids, each <see cref="VlmBatch.ImageMarker"/> where an image goes</param>
/// <param name="Pixels">[n, C, S, S] this row's images in order of their markers, or null without images</param>
/// <param name="Stop">when this row stops (null: at its token budget)</param>
public sealed record GenerationPrompt(long[] Ids, Tensor? Pixels = null, StopCriteria? Stop = null);
