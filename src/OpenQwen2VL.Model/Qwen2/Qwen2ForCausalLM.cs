using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>
/// Qwen2 / Qwen2.5 causal language model (HF Qwen2ForCausalLM naming: <c>model.*</c>, <c>lm_head.weight</c>).
/// With tied embeddings there is no <c>lm_head</c> parameter at all: the head multiplies by the embedding
/// table, exactly as HF stores it (once), so <c>named_parameters()</c> equals the safetensors keys.
/// </summary>
public sealed class Qwen2ForCausalLM : nn.Module<Tensor, Tensor>
{
    private readonly Qwen2Model model;
    private readonly Linear? lm_head;

    public Qwen2Config Config { get; }
    public Qwen2Model Decoder => model;

    /// <param name="dtype">floating dtype of the parameters, created directly in it without touching libtorch's
    /// process-wide default (null: that default, float32)</param>
    public Qwen2ForCausalLM(Qwen2Config config, ScalarType? dtype = null) : base(nameof(Qwen2ForCausalLM))
    {
        Config = config;
        model = new Qwen2Model(config, dtype);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Logits [B, L, V] for int64 ids [B, L] (positions 0..L-1, no cache).</summary>
    public override Tensor forward(Tensor inputIds) => Logits(inputIds: inputIds);

    /// <summary>
    /// Logits [B, L, V] from ids [B, L] or from input embeddings [B, L, D] (exactly one of them).
    /// With a cache, positions continue after the cached ones and the cache is extended.
    /// </summary>
    public Tensor Logits(Tensor? inputIds = null, Tensor? inputsEmbeds = null, KvCache? cache = null, long? positionOffset = null)
    {
        if ((inputIds is null) == (inputsEmbeds is null)) throw new ArgumentException("give exactly one of inputIds and inputsEmbeds");
        using var scope = NewDisposeScope();
        var embeds = inputsEmbeds ?? model.Embed(inputIds!);
        var hidden = model.Forward(embeds, positionOffset, cache);
        return Head(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logits [B, L, V] from input embeddings [B, L, D] with per-row positions [B, L] and an optional bool attention
    /// mask [B, 1, L, cached + L] (ragged batches in generation); the cache, when given, is extended.
    /// </summary>
    public Tensor Logits(Tensor inputsEmbeds, Tensor positions, Tensor? attentionMask, IKeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(inputsEmbeds, positions, attentionMask, cache);
        return Head(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Final (normed) hidden states [B, L, D] from input embeddings, before the head (positions 0..L-1, no cache).</summary>
    public Tensor HiddenStates(Tensor inputsEmbeds) => model.Forward(inputsEmbeds, null, null);

    /// <summary>
    /// Final hidden states [B, L, D] of rows that may hold several packed sequences: with <paramref name="segments"/>,
    /// each sequence's positions restart at 0 and attention stays inside it; null is <see cref="HiddenStates(Tensor)"/>.
    /// </summary>
    public Tensor HiddenStates(Tensor inputsEmbeds, PackedSegments? segments) =>
        segments is null ? HiddenStates(inputsEmbeds) : model.Forward(inputsEmbeds, segments);

    /// <summary>Projects hidden states [.., D] to vocabulary logits [.., V].</summary>
    public Tensor Head(Tensor hidden) =>
        lm_head is null ? nn.functional.linear(hidden, model.EmbedWeight) : lm_head.forward(hidden);

    /// <summary>Token embeddings [B, L, D] for ids [B, L].</summary>
    public Tensor Embed(Tensor inputIds) => model.Embed(inputIds);

    /// <summary>An empty key/value cache for this model's layers holding up to <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(long capacity) => new(Config.NumHiddenLayers, capacity);

    /// <summary>HF's initialisation: linear and embedding weights ~ N(0, initializer_range), biases 0, norm scales 1.</summary>
    public void InitializeWeights(Generator? generator = null)
    {
        using var noGrad = no_grad();
        using var one = 1.0.ToScalar(); // held: a temporary Scalar can be finalised mid-op (see CachedScalars)
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(one);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, Config.InitializerRange, generator);
        }
    }
}
