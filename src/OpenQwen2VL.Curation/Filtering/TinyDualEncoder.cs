using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

/// <summary>Sizes of <see cref="TinyDualEncoder"/>.</summary>
public sealed record TinyDualEncoderConfig(int ImageSize = 32, int TextBuckets = 4096, int Width = 64, int EmbedDim = 64);

/// <summary>
/// A deliberately tiny SigLIP-style dual encoder for the demo's filter, trained from scratch in seconds on a
/// CPU: a 2-layer patchifying CNN image tower with global max pooling and a bag-of-tokens text tower (mean of embeddings over hashed
/// tokens), each projected to a shared space. It stands in for OpenQwen2VL.Model's SiglipModel,
/// which is what a real run adapts to <see cref="IDualEncoder"/>.
/// </summary>
public sealed class TinyDualEncoder : nn.Module, IDualEncoder
{
    private readonly Sequential vision;
    private readonly BagOfTokensTextEncoder text;
    private readonly Parameter logit_scale;
    private readonly Parameter logit_bias;

    public TinyDualEncoder(TinyDualEncoderConfig config) : base(nameof(TinyDualEncoder))
    {
        if (config.ImageSize % 8 != 0) throw new ArgumentException("image size must be a multiple of 8");
        Config = config;
        int w = config.Width;
        // Patchify (4x4, like a ViT stem), one 2x2 merge, then global max pooling: cheap enough to train in
        // seconds on a CPU; max (not mean) pooling detects a small object on a large background, and pooling at
        // all keeps the tower from memorising single images (and their wrong captions).
        vision = nn.Sequential(
            nn.Conv2d(3, w / 2, 4, stride: 4), nn.GELU(),
            nn.Conv2d(w / 2, w, 2, stride: 2), nn.GELU(),
            nn.AdaptiveMaxPool2d([1L, 1L]), nn.Flatten(), nn.Linear(w, config.EmbedDim));
        text = new BagOfTokensTextEncoder(config.TextBuckets, w, config.EmbedDim);
        // SigLIP's initialisation: temperature 10, bias -10 (most pairs in a batch are negatives).
        logit_scale = nn.Parameter(tensor(MathF.Log(10f)));
        logit_bias = nn.Parameter(tensor(-10f));
        RegisterComponents();
    }

    public TinyDualEncoderConfig Config { get; }

    public Tensor LogitScale => logit_scale;
    public Tensor LogitBias => logit_bias;

    public Tensor EncodeImages(Tensor pixels) => vision.forward(pixels);

    public Tensor EncodeTexts(Tensor tokenIds) => text.forward(tokenIds);

    public IEnumerable<Parameter> TrainableParameters() => parameters();

    public void SetTraining(bool training) => train(training);

    public void Save(string path) => save(path);
}
