namespace OpenQwen2VL.Training.Model;

/// <summary>Sizes the FLOP estimate needs (see <see cref="Observability.FlopEstimate"/>).</summary>
public sealed record ModelShape(
    long LlmParameters,
    int LlmLayers,
    int LlmHidden,
    long VisionParameters,
    int VisionLayers,
    int VisionHidden,
    int PatchesPerImage,
    long ProjectorParameters,
    int VisualTokensPerImage);
