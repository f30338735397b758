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

    public SiglipVisionEmbeddings(SiglipVisionConfig config, ScalarType? dtype = null) : base(nameof(SiglipVisionEmbeddings))
    {
        patch_embedding = PatchConvolution(config, dtype);
        numPatches = config.NumPatches;
        position_embedding = nn.Embedding(numPatches, config.HiddenSize, dtype: dtype);
        RegisterComponents();
        using var noGrad = no_grad();
        // Embedding.weight wraps the native table in a new handle on every read: dispose it.
        using var positions = position_embedding.weight!;
        positions.normal_(0, 1.0 / Math.Sqrt(config.HiddenSize)); // HF's init for this table
    }

    /// <summary>
    /// nn.Conv2d with PyTorch's default init. The bias is added here, not by Conv2d: TorchSharp 0.107's
    /// Conv2d leaks a tensor handle (a <c>weight[0, 0]</c> view taken to size the bias init) for every conv built
    /// with a bias. Same random draws in the same order (weight, then bias), so the init is unchanged.
    /// </summary>
    private static Conv2d PatchConvolution(SiglipVisionConfig config, ScalarType? dtype)
    {
        var conv = nn.Conv2d(config.NumChannels, config.HiddenSize, kernel_size: config.PatchSize, stride: config.PatchSize, bias: false, dtype: dtype);
        var bias = new Parameter(empty(config.HiddenSize, dtype: dtype));
        long fanIn = (long)config.NumChannels * config.PatchSize * config.PatchSize;
        double bound = 1 / Math.Sqrt(fanIn);
        using (no_grad()) nn.init.uniform_(bias, -bound, bound);
        conv.bias = bias;
        return conv;
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
