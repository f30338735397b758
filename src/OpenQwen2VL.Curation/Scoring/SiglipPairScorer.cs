using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Tokenization;
using OpenQwen2VL.Model;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Scoring;

/// <summary>
/// The CLIP-score filter with a published SigLIP (both towers): <c>siglip</c> is the cosine similarity of the
/// normalised image and text embeddings, <c>siglip_prob</c> the pair's sigmoid probability with the checkpoint's
/// logit scale and bias, <c>sigmoid(exp(scale) · cos + bias)</c>, as SigLIP's loss reads it.
/// </summary>
public sealed class SiglipPairScorer : IPairScorer
{
    public const string ScorerName = "siglip";
    public static readonly ScoreColumn Similarity = new("siglip");
    public static readonly ScoreColumn Probability = new("siglip_prob");

    private readonly SiglipModel _model;
    private readonly Func<string, int[]> _tokenize;
    private readonly Device _device;
    private readonly ScalarType _dtype;

    public string Name => ScorerName;
    public IReadOnlyList<ScoreColumn> Columns { get; } = [Similarity, Probability];
    public ImagePreprocessor Preprocessor { get; }

    /// <param name="tokenize">Caption → the text tower's ids (padded to its length); SigLIP's tokenizer in use.</param>
    public SiglipPairScorer(SiglipModel model, Func<string, int[]> tokenize, ImagePreprocessor preprocessor, Device device, ScalarType dtype)
    {
        _model = model;
        _tokenize = tokenize;
        Preprocessor = preprocessor;
        _device = device;
        _dtype = dtype;
        _model.eval();
    }

    /// <summary>An HF SigLIP folder: config.json, model.safetensors, spiece.model, optional preprocessor_config.json.</summary>
    public static SiglipPairScorer Load(string folder, Device device, ScalarType dtype)
    {
        string spiece = Path.Combine(folder, "spiece.model");
        if (!File.Exists(spiece))
            throw new InvalidDataException($"{folder}: no spiece.model (the SigLIP text tower's SentencePiece model, beside config.json in an HF SigLIP folder)");
        var tokenizer = SiglipTextTokenizer.Load(spiece);
        var model = VlmLoader.LoadSiglip(folder, dtype, device);
        int length = model.TextModel.Config.MaxPositionEmbeddings;
        if (tokenizer.VocabularySize > model.TextModel.Config.VocabSize)
        {
            model.Dispose();
            throw new InvalidDataException($"{spiece}: {tokenizer.VocabularySize} pieces, but the text tower embeds {model.TextModel.Config.VocabSize}");
        }
        return new SiglipPairScorer(model, caption => tokenizer.Encode(caption, length), ImagePreprocessor.FromModelDirectory(folder), device, dtype);
    }

    public ScoredBatch Score(IReadOnlyList<ScoringPair> pairs, float[] pixels)
    {
        int n = pairs.Count;
        int length = _model.TextModel.Config.MaxPositionEmbeddings;
        var ids = new long[n * length];
        for (int i = 0; i < n; i++)
        {
            var row = _tokenize(pairs[i].Caption);
            for (int j = 0; j < length; j++) ids[i * length + j] = row[j];
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int s = Preprocessor.Size;
        var px = tensor(pixels, [pixels.Length / Preprocessor.OutputLength, 3, s, s]).narrow(0, 0, n).to(_dtype, _device);
        var (cos, prob) = Similarities(px, tensor(ids, [n, length], device: _device));
        // One host read per batch: the job writes the scores.
        var cosHost = cos.to(float64).cpu().data<double>().ToArray();
        var probHost = prob.to(float64).cpu().data<double>().ToArray();
        return new ScoredBatch(
            [cosHost.Select(v => (double?)v).ToArray(), probHost.Select(v => (double?)v).ToArray()],
            [null, null]);
    }

    /// <summary>Cosine similarity and sigmoid probability of each (image, caption) row pair, [n] each.</summary>
    public (Tensor Cosine, Tensor Probability) Similarities(Tensor pixels, Tensor ids)
    {
        using var scope = NewDisposeScope();
        var img = _model.ImageEmbeds(pixels);
        var txt = _model.TextEmbeds(ids);
        var cos = (img * txt).sum(-1);
        var prob = (cos * _model.LogitScale.exp()).add(_model.LogitBias, CachedScalars.One).sigmoid();
        return (cos.MoveToOuterDisposeScope(), prob.MoveToOuterDisposeScope());
    }

    public void Dispose() => _model.Dispose();
}
