using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Siglip;

/// <summary>Non-overlapping patch convolution plus a learned position per patch (HF SiglipVisionEmbeddings naming).</summary>
public sealed class SiglipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;
    private readonly int numPatches;

    public SiglipVisionEmbeddings(SiglipVisionConfig config) : base(nameof(SiglipVisionEmbeddings))
    {
        patch_embedding = nn.Conv2d(config.NumChannels, config.HiddenSize, kernel_size: config.PatchSize, stride: config.PatchSize);
        numPatches = config.NumPatches;
        position_embedding = nn.Embedding(numPatches, config.HiddenSize);
        RegisterComponents();
        using var noGrad = no_grad();
        position_embedding.weight!.normal_(0, 1.0 / Math.Sqrt(config.HiddenSize)); // HF's init for this table
    }

    /// <param name="pixels">[N, C, S, S] normalised pixels</param>
    /// <returns>[N, P, D] patch embeddings, patches in row-major order</returns>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var weight = patch_embedding.weight!;
        var patches = patch_embedding.forward(pixels.to(weight.dtype)).flatten(2).transpose(1, 2);
        if (patches.shape[1] != numPatches)
            throw new ArgumentException($"image gives {patches.shape[1]} patches, the model has {numPatches} positions");
        return patches.add(position_embedding.weight!.unsqueeze(0), CachedScalars.One).MoveToOuterDisposeScope();
    }
}
