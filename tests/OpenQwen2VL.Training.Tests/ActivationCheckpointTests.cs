using OpenQwen2VL.Training.Memory;
using TorchSharp;
using static TorchSharp.torch;
using static OpenQwen2VL.Tests.Training.TrainingTestKit;

namespace OpenQwen2VL.Tests.Training;

[Collection(TorchGlobalState.Name)]
public class ActivationCheckpointTests
{
    static Dictionary<string, float[]> Grads(bool checkpointed, double dropout)
    {
        using var model = new StandInVlm(dropout: dropout);
        model.SetTrainable(true, true, false);
        model.LayerCheckpoint = checkpointed ? ActivationCheckpoint.Apply : null;
        using var data = SyntheticData(4);
        using var batch = data.Next();
        using var scope = NewDisposeScope();
        manual_seed(5);   // same dropout masks in both runs' forward
        var (loss, _) = model.Forward(batch);
        loss.backward();
        return model.Parameters().Where(p => p.Parameter.requires_grad)
            .ToDictionary(p => p.Key, p => p.Parameter.grad!.data<float>().ToArray());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]   // dropout: the recomputation must replay the forward's RNG state
    public void CheckpointedGradientsEqualPlainGradients(double dropout)
    {
        var plain = Grads(false, dropout);
        var ckpt = Grads(true, dropout);
        Assert.Equal(plain.Keys.OrderBy(k => k), ckpt.Keys.OrderBy(k => k));
        foreach (var k in plain.Keys)
        {
            Assert.Contains(plain[k], x => x != 0);
            Assert.Equal(plain[k], ckpt[k]);
        }
    }

    [Fact]
    public void NoGradForwardRunsThePlainLayer()
    {
        using var x = ones(3);
        using var _ = no_grad();
        using var y = ActivationCheckpoint.Apply(t => t * 2, x);
        Assert.Equal(new float[] { 2, 2, 2 }, y.data<float>().ToArray());
    }
}
