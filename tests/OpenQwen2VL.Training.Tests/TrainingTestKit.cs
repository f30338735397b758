using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Training.Config;
using OpenQwen2VL.Training.Data;

namespace OpenQwen2VL.Tests.Training;

/// <summary>Tiny configs and data shared by the training tests (run folders: <see cref="OpenQwen2VL.Tests.Shards.TempDir"/>).</summary>
public static class TrainingTestKit
{
    public const int Vocab = 64;

    public static StageConfig Config(int steps, int global = 4, int micro = 4, double lr = 1e-2) =>
        StageConfig.ForStage(Stage.Pretrain) with
        {
            MaxSteps = steps, GlobalBatchSequences = global, MicroBatchSequences = micro, LearningRate = lr,
            WarmupRatio = 0.1, CheckpointEvery = 1000, KeepLastCheckpoints = 2, LogEvery = 1, Precision = "fp32",
            ActivationCheckpointing = false, Seed = 7,
        };

    public static BatchStreamSource SyntheticData(int micro, int sequences = 8) =>
        new(new SyntheticCaptionBatches(sequences, micro, imageSize: 8, vocab: Vocab, seed: 3));

    /// <summary>Same shape and the same bytes (NaN-safe, bitwise).</summary>
    public static bool BitEqual(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.contiguous().bytes.SequenceEqual(b.contiguous().bytes);
}
