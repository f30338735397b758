using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Tests.Model;

/// <summary>Equivalences of the Qwen2 LM's code paths on the reference weights (cache vs full, embeds vs ids, config round trip).</summary>
[Collection(TorchGlobalState.Name)]
public sealed class Qwen2BehaviourTests : IDisposable
{
    private readonly Qwen2ForCausalLM lm = ModelFixtures.LoadQwen2();
    private readonly Dictionary<string, Tensor> ref_ = ModelFixtures.ReadCase("qwen2_case.safetensors");

    public void Dispose()
    {
        lm.Dispose();
        ModelFixtures.DisposeAll(ref_);
    }

    [Fact]
    public void IncrementalDecodingWithCacheEqualsFullForward()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = ref_["input_ids"];
        long l = ids.shape[1];
        var full = lm.forward(ids);
        using var cache = lm.NewCache(l);
        // A multi-token chunk after a cached prefix exercises the bottom-right causal mask; then single tokens.
        long first = l / 3, second = l / 2;
        var parts = new List<Tensor>
        {
            lm.Logits(inputIds: ids.narrow(1, 0, first), cache: cache),
            lm.Logits(inputIds: ids.narrow(1, first, second - first), cache: cache),
        };
        for (long t = second; t < l; t++) parts.Add(lm.Logits(inputIds: ids.narrow(1, t, 1), cache: cache));
        Assert.Equal(l, cache.Length);
        TensorAssert.Close(full, cat(parts, 1), 1e-5, "cached logits");
    }

    [Fact]
    public void LogitsFromEmbeddingsEqualLogitsFromIds()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = ref_["input_ids"];
        TensorAssert.Close(lm.forward(ids), lm.Logits(inputsEmbeds: lm.Embed(ids)), 1e-6, "embeds path");
    }

    [Fact]
    public void GenerationStopsAtStopTokenAndIncludesIt()
    {
        var free = GreedyDecoding.FromIds(lm, ref_["gen_prompt"], 8);
        var stop = free[0][2];
        var stopped = GreedyDecoding.FromIds(lm, ref_["gen_prompt"], 8, [stop]);
        Assert.Equal(free[0].Take(Array.IndexOf(free[0], stop) + 1), stopped[0]);
    }

    [Fact]
    public void LayerCheckpointSeamWrapsEveryLayerAndCanRecomputeLater()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = ref_["input_ids"];
        var plain = lm.forward(ids);
        var calls = new List<(Func<Tensor, Tensor> Layer, Tensor Input, Tensor Output)>();
        lm.Decoder.LayerCheckpoint = (layer, h) =>
        {
            var y = layer(h);
            // Kept beyond the forward's dispose scope, as a trainer keeps a checkpointed layer's input.
            calls.Add((layer, h.clone().DetachFromDisposeScope(), y.clone().DetachFromDisposeScope()));
            return y;
        };
        try
        {
            TensorAssert.Close(plain, lm.forward(ids), 0, "checkpointed logits");
            Assert.Equal(lm.Config.NumHiddenLayers, calls.Count);
            // A trainer re-runs a layer in backward, after the forward's scope has ended.
            foreach (var (layer, input, output) in calls)
                TensorAssert.Close(output, layer(input), 0, "recomputed layer");
        }
        finally
        {
            lm.Decoder.LayerCheckpoint = null;
            foreach (var (_, input, output) in calls) { input.Dispose(); output.Dispose(); }
        }
    }

    [Fact]
    public void ConfigRoundTripsThroughHfJson()
    {
        var path = ReferenceFixtures.File("qwen2", "config.json");
        var cfg = Qwen2Config.Load(path);
        var again = Qwen2Config.Parse(cfg.ToJson());
        Assert.Equal(cfg with { Extra = again.Extra, EosTokenIds = again.EosTokenIds }, again);
        Assert.Equal(cfg.EosTokenIds, again.EosTokenIds);
        Assert.Equal(cfg.Extra.ToJsonString(), again.Extra.ToJsonString());
        // transformers v5 layout: rope_theta inside rope_parameters
        var v5 = (System.Text.Json.Nodes.JsonObject)System.Text.Json.Nodes.JsonNode.Parse(cfg.ToJson())!;
        v5.Remove("rope_theta");
        v5["rope_parameters"] = new System.Text.Json.Nodes.JsonObject { ["rope_type"] = "default", ["rope_theta"] = cfg.RopeTheta + 1 };
        Assert.Equal(cfg.RopeTheta + 1, Qwen2Config.Parse(v5.ToJsonString()).RopeTheta);
    }

    [Fact]
    public void UntiedConfigOwnsLmHeadAndInitialisesLikeHf()
    {
        var cfg = lm.Config with { TieWordEmbeddings = !lm.Config.TieWordEmbeddings };
        using var other = new Qwen2ForCausalLM(cfg);
        var names = other.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Equal(!cfg.TieWordEmbeddings, names.Contains("lm_head.weight"));
        other.InitializeWeights();
        var q = other.named_parameters().First(p => p.name.EndsWith("q_proj.weight")).parameter;
        Assert.InRange(q.std().item<float>(), cfg.InitializerRange * 0.8, cfg.InitializerRange * 1.2);
    }
}
