using OpenQwen2VL.Model;
using OpenQwen2VL.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Curation.Filtering;

public sealed record DualEncoderTrainingOptions
{
    public int Epochs { get; init; } = 12;
    public int BatchSize { get; init; } = 256;
    public double LearningRate { get; init; } = 2e-3;
    public double WeightDecay { get; init; } = 1e-4;
    public int Seed { get; init; } = 7;
    /// <summary>
    /// Null: a constant learning rate (the filter's default). Otherwise a linear warm-up over this fraction of the
    /// steps, then cosine decay to 0 (<see cref="OpenQwen2VL.Training.Optim.WarmupCosineSchedule"/>).
    /// </summary>
    public double? WarmupRatio { get; init; }
}

/// <summary>
/// Trains a dual encoder on the (noisy) pairs themselves with the sigmoid pairwise loss. Most pairs are
/// right, so the encoder learns what matches; the wrong captions stay poorly aligned and score low, which is
/// why a filter can be trained on the very data it cleans.
/// </summary>
public static class DualEncoderTrainer
{
    /// <summary>Returns the mean loss of each epoch (read once per epoch, not per step).</summary>
    public static IReadOnlyList<double> Train(IDualEncoder model, FilterPairs pairs, DualEncoderTrainingOptions options, Device device,
        IProgress<(int Epoch, double Loss)>? progress = null)
    {
        var rng = new Random(options.Seed);
        var parameters = model.TrainableParameters().ToList();
        // Our AdamW with torch.optim.AdamW's defaults (betas 0.9/0.999, eps 1e-8) and its weight decay on every parameter.
        // Not TorchSharp's optim.AdamW: its step() hands libtorch temporary Scalars that a GC can finalise mid-call
        // (the "Unknown scalar type" crash, see CachedScalars), and every model of ours trains with one optimiser.
        using var optimizer = new MaskedAdamW(parameters.Select((p, i) => ($"p{i}", (Tensor)p, options.WeightDecay)), beta1: 0.9, beta2: 0.999, eps: 1e-8);
        using var apply = tensor(1f, device: device); // every step is applied: no NaN/Inf skipping here
        var losses = new List<double>();
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        int stepsPerEpoch = pairs.Count / options.BatchSize + (pairs.Count % options.BatchSize >= 2 ? 1 : 0);
        // Null: a constant learning rate. Otherwise step k (0-based) runs at schedule.LearningRate(k), as LambdaLR did.
        var schedule = options.WarmupRatio is { } warmup ? new WarmupCosineSchedule(options.LearningRate, options.Epochs * stepsPerEpoch, warmup) : null;
        int step = 0;
        model.SetTraining(true);
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            rng.Shuffle(order);
            using var epochScope = NewDisposeScope();
            var total = zeros(1, device: device);
            int steps = 0;
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                int[] batch = order[start..Math.Min(start + options.BatchSize, order.Length)];
                if (batch.Length < 2) continue; // a one-pair batch has no negatives
                using var scope = NewDisposeScope();
                var (images, texts) = Batch(pairs, batch, device);
                foreach (var p in parameters) p.grad?.zero_();
                var loss = SigmoidPairwiseLoss.Compute(model.EncodeImages(images), model.EncodeTexts(texts), model.LogitScale, model.LogitBias);
                loss.backward();
                optimizer.Step(Grads(parameters), schedule?.LearningRate(step) ?? options.LearningRate, apply);
                step++;
                total.add_(loss.detach(), CachedScalars.One); // explicit alpha: add_(Tensor) makes a temporary Scalar
                steps++;
            }
            double mean = total.item<float>() / Math.Max(1, steps);
            losses.Add(mean);
            progress?.Report((epoch + 1, mean));
        }
        model.SetTraining(false);
        return losses;
    }

    /// <summary>Each parameter's gradient; one that no backward reached gets zeros (as the trainer's MasterWeights does).</summary>
    private static List<Tensor> Grads(IReadOnlyList<TorchSharp.Modules.Parameter> parameters)
    {
        var grads = new List<Tensor>(parameters.Count);
        foreach (var p in parameters)
        {
            if (p.grad is null) p.grad = zeros_like(p);
            grads.Add(p.grad!);
        }
        return grads;
    }

    /// <summary>Cosine similarity of each pair's image and text embeddings, in pair order.</summary>
    public static float[] Score(IDualEncoder model, FilterPairs pairs, Device device, int batchSize = 512)
    {
        model.SetTraining(false);
        var scores = new float[pairs.Count];
        using var noGrad = no_grad();
        for (int start = 0; start < pairs.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int[] batch = Enumerable.Range(start, Math.Min(batchSize, pairs.Count - start)).ToArray();
            var (images, texts) = Batch(pairs, batch, device);
            var cos = nn.functional.cosine_similarity(model.EncodeImages(images), model.EncodeTexts(texts), dim: 1);
            cos.cpu().data<float>().CopyTo(scores, start);
        }
        return scores;
    }

    private static (Tensor Images, Tensor Texts) Batch(FilterPairs pairs, int[] indices, Device device)
    {
        int s = pairs.ImageSize, per = 3 * s * s;
        var pixels = new float[indices.Length * per];
        for (int i = 0; i < indices.Length; i++) Array.Copy(pairs.Pixels, (long)indices[i] * per, pixels, (long)i * per, per);
        var (ids, length) = CaptionFeaturizer.Pad(indices.Select(i => pairs.TextFeatures[i]).ToArray());
        // disposeAfter: the CPU wrappers are freed at once, not left to the finaliser (to() always returns a new one).
        return (tensor(pixels, [indices.Length, 3, s, s]).to(device, disposeAfter: true),
                tensor(ids, [indices.Length, length]).to(device, disposeAfter: true));
    }
}
