using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Training.Model;

/// <summary>
/// What the trainer needs of a VLM. Kept small so the trainer can be tested with a stand-in and the
/// real network is plugged in by an adapter.
/// </summary>
public interface ITrainableModel : IDisposable
{
    /// <summary>All parameters (trainable or not). Re-read after <see cref="ConvertTo"/>: conversion may replace them.</summary>
    IReadOnlyList<NamedParameter> Parameters();

    /// <summary>
    /// Forward of one micro-batch: the summed token cross-entropy (fp32 scalar, differentiable) and the number
    /// of target tokens (scalar). The frozen parts must run without autograd.
    /// </summary>
    (Tensor LossSum, Tensor TargetTokens) Forward(VlmBatch batch);

    /// <summary>
    /// Moves all parameters to a device and floating dtype. Should return early when nothing changes:
    /// TorchSharp's Module.to leaves one undisposed gradient wrapper per parameter even when it copies nothing.
    /// </summary>
    void ConvertTo(ScalarType dtype, Device device);

    /// <summary>Per-decoder-layer wrapper; null = plain calls. See <see cref="Memory.ActivationCheckpoint"/>.</summary>
    Func<Func<Tensor, Tensor>, Tensor, Tensor>? LayerCheckpoint { get; set; }

    /// <summary>Which components train; frozen ones get requires_grad = false.</summary>
    void SetTrainable(bool llm, bool projector, bool vision);

    ModelShape Shape { get; }

    /// <summary>Positions one image occupies in the packed sequence after the splice.</summary>
    int VisualTokensPerImage { get; }
}
