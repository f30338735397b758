using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Training.Model;
using OpenQwen2VL.Training.Observability;

namespace OpenQwen2VL.Tests.Training;

/// <summary>
/// The FLOP estimate of a real tiny VLM (its shape as the trainer reads it) against a count made layer by layer from the
/// config: every weight, bias and norm parameter costs 2 FLOPs per token it touches forward (the notes' convention),
/// backward twice that when it trains; causal attention summed over each query's own keys; the vision tower's used
/// blocks (all but the last) per patch with full attention; the projector per visual token.
/// </summary>
[Collection(TorchGlobalState.Name)]
public class FlopEstimateNaiveCountTests
{
    const int Vocab = 256, Positions = 200, Images = 3;

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void MatchesALayerByLayerCountOfTheTinyModel(bool llmTrains, bool visionTrains)
    {
        var config = VlmConfig.Tiny(Vocab);
        using var model = new VlmTrainableModel(VisionLanguageModel.CreateRandom(config, seed: 1));
        double estimate = FlopEstimate.PerSequence(model.Shape, Positions, Images, visionTrains, llmTrains);
        double textOnly = FlopEstimate.PerSequence(model.Shape, Positions, 0, visionTrains, llmTrains);

        var llm = config.Llm;
        long d = llm.HiddenSize, kv = llm.NumKeyValueHeads * (llm.HiddenSize / llm.NumAttentionHeads), ff = llm.IntermediateSize;
        double llmNaive = 0;
        for (int layer = 0; layer < llm.NumHiddenLayers; layer++)
        {
            long weights = (d * d + d) + 2 * (d * kv + kv) + d * d + 3 * d * ff + 2 * d;   // q, k, v (biased), o, MLP, 2 norms
            llmNaive += (llmTrains ? 6.0 : 4.0) * weights * Positions;   // a frozen LLM still back-propagates to its inputs
            for (int query = 1; query <= Positions; query++) llmNaive += 3 * (2.0 * d * query + 2.0 * d * query);   // QKᵀ, AV over its causal keys
        }
        llmNaive += (llmTrains ? 6.0 : 4.0) * (Vocab * d + d) * Positions;   // tied embedding as the head, final norm

        var v = config.Vision;
        long dv = v.HiddenSize, ffv = v.IntermediateSize, patches = v.NumPatches;
        double visionNaive = 2.0 * (dv * v.NumChannels * v.PatchSize * v.PatchSize + dv + patches * dv) * patches;   // patch and position embedding
        // Per used block (the backbone stops before the last): q, k, v, out (biased), fc1 and fc2 (biased), 2 layer norms.
        for (int layer = 0; layer < v.NumHiddenLayers - 1; layer++)
            visionNaive += 2.0 * (4 * (dv * dv + dv) + 2 * dv * ffv + ffv + dv + 4 * dv) * patches + 4.0 * dv * patches * patches;
        visionNaive *= visionTrains ? 3 : 1;
        double projectorNaive = 6.0 * (dv * d + d + d * d + d) * config.TokensPerImage;

        Assert.InRange(textOnly / llmNaive, 0.99, 1.01);   // the estimate's T² against Σ query positions: within 1/T
        Assert.InRange((estimate - textOnly) / (Images * (visionNaive + projectorNaive)), 0.999, 1.001);
    }
}
