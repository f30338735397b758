using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Qwen2;

/// <summary>The Qwen2 decoder stack: token embeddings, decoder layers, final RMSNorm (HF Qwen2Model naming).</summary>
public sealed class Qwen2Model : nn.Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<Qwen2DecoderLayer> layers;
    private readonly Qwen2RmsNorm norm;

    public Qwen2Config Config { get; }

    /// <summary>
    /// Activation-checkpointing seam: when set and no cache is in use, each decoder layer runs as
    /// <c>LayerCheckpoint(h => layer(h), hidden)</c>, so a trainer can recompute the layer in backward.
    /// </summary>
    public Func<Func<Tensor, Tensor>, Tensor, Tensor>? LayerCheckpoint { get; set; }

    /// <summary>How packed rows attend (<see cref="Forward(Tensor, PackedSegments)"/>); the same result every way.</summary>
    public PackedAttentionChoice PackedAttention { get; set; } = PackedAttentionChoice.Measured;

    public Qwen2Model(Qwen2Config config, ScalarType? dtype = null) : base(nameof(Qwen2Model))
    {
        config.Validate();
        Config = config;
        // TorchSharp's (native) Embedding allocates the table in float32 and then converts it to dtype: a transient
        // float32 table while the rest of the LM is not built yet, below the loaded model's peak memory (vlm-load bench).
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, dtype: dtype);
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new Qwen2DecoderLayer(config, dtype)).ToArray());
        norm = new Qwen2RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        RegisterComponents();
    }

    /// <summary>
    /// The [V, D] token embedding table (also the LM head when embeddings are tied). Each read is a new handle on
    /// the native table (TorchSharp's Embedding): read it inside a dispose scope or dispose it.
    /// </summary>
    public Parameter EmbedWeight => embed_tokens.weight!;

    /// <summary>Token embeddings [B, L, D] of int64 ids [B, L].</summary>
    public Tensor Embed(Tensor inputIds) => embed_tokens.forward(inputIds);

    /// <summary>Final hidden states [B, L, D] after the last norm.</summary>
    /// <param name="inputsEmbeds">[B, L, D] input embeddings</param>
    /// <param name="positionOffset">position of the first input (default: the cache length, or 0)</param>
    /// <param name="cache">key/value cache to read and extend (incremental decoding), or null</param>
    public Tensor Forward(Tensor inputsEmbeds, long? positionOffset = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long b = inputsEmbeds.shape[0], l = inputsEmbeds.shape[1];
        long start = positionOffset ?? cache?.Length ?? 0;
        var device = inputsEmbeds.device;
        var (cos, sin) = RotaryFor(b, l, start, device);

        var h = inputsEmbeds;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            int index = i;
            if (LayerCheckpoint is { } checkpoint && cache is null)
            {
                // The closure may be re-run during backward, after this scope has freed cos/sin: it
                // captures only plain values and rebuilds its rotary tables.
                h = checkpoint(x =>
                {
                    using var inner = NewDisposeScope();
                    var (c, s) = RotaryFor(b, l, start, device);
                    return layer.Forward(x, c, s, null, index).MoveToOuterDisposeScope();
                }, h);
            }
            else
                h = layer.Forward(h, cos, sin, cache, index);
        }
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Final hidden states [B, L, D] of packed rows (training, no cache): positions restart and attention stays inside each
    /// of the <paramref name="segments"/>, run sequence by sequence or under a dense block-diagonal mask as
    /// <see cref="PackedAttention"/> chooses. Activation checkpointing applies as in the plain forward.
    /// </summary>
    public Tensor Forward(Tensor inputsEmbeds, PackedSegments segments)
    {
        using var scope = NewDisposeScope();
        if (inputsEmbeds.shape[0] != segments.Rows || inputsEmbeds.shape[1] != segments.Length)
            throw new ArgumentException($"segments of a [{segments.Rows}, {segments.Length}] batch for embeddings of [{inputsEmbeds.shape[0]}, {inputsEmbeds.shape[1]}]");
        var device = inputsEmbeds.device;
        bool perSequence = PackedAttention switch
        {
            PackedAttentionChoice.PerSequence => true,
            PackedAttentionChoice.DenseMask => false,
            _ => PackedCausalAttention.RunsPerSequence(segments),
        };
        var (cos, sin, mask) = PackedInputs(segments, perSequence, device);
        var h = inputsEmbeds;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            int index = i;
            if (LayerCheckpoint is { } checkpoint)
            {
                // As in the plain forward: the closure captures plain values (the host-side segments) and rebuilds its tensors.
                h = checkpoint(x =>
                {
                    using var inner = NewDisposeScope();
                    var (c, s, m) = PackedInputs(segments, perSequence, device);
                    return layer.Forward(x, c, s, null, index, m, perSequence ? segments : null).MoveToOuterDisposeScope();
                }, h);
            }
            else
                h = layer.Forward(h, cos, sin, null, index, mask, perSequence ? segments : null);
        }
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>Rotary tables of the packed positions, and the dense mask unless attention runs per sequence.</summary>
    private (Tensor Cos, Tensor Sin, Tensor? Mask) PackedInputs(PackedSegments segments, bool perSequence, Device device)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = Qwen2RotaryEmbedding.CosSin(segments.Positions(device), Config.HeadDim, Config.RopeTheta);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope(), perSequence ? null : segments.AttentionMask(device).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Final hidden states [B, L, D] for a batch whose rows have their own positions and padding (ragged generation):
    /// no activation checkpointing (inference only).
    /// </summary>
    /// <param name="inputsEmbeds">[B, L, D] input embeddings</param>
    /// <param name="positions">int64 [B, L] rotary position of every input (a row's real tokens count from 0)</param>
    /// <param name="attentionMask">bool [B, 1, L, cached + L] (true: may attend), or null for plain causal attention</param>
    /// <param name="cache">key/value cache to read and extend, or null</param>
    public Tensor Forward(Tensor inputsEmbeds, Tensor positions, Tensor? attentionMask, IKeyValueCache? cache)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = Qwen2RotaryEmbedding.CosSin(positions, Config.HeadDim, Config.RopeTheta);
        var h = inputsEmbeds;
        for (int i = 0; i < layers.Count; i++) h = layers[i].Forward(h, cos, sin, cache, i, attentionMask);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    private (Tensor Cos, Tensor Sin) RotaryFor(long batch, long length, long start, Device device)
    {
        using var scope = NewDisposeScope();
        using var first = start.ToScalar();
        using var end = (start + length).ToScalar();
        var positions = arange(first, end, CachedScalars.One, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(batch, length);
        var (cos, sin) = Qwen2RotaryEmbedding.CosSin(positions, Config.HeadDim, Config.RopeTheta);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }
}
