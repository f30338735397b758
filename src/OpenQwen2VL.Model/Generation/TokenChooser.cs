using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// Picks each row's next token from its logits under <see cref="GenerationOptions"/>: argmax, or a draw from the warped
/// distribution with its own seeded generator on the logits' device (a seeded run repeats exactly). Tracks which tokens
/// each row holds for the repetition penalty.
/// </summary>
internal sealed class TokenChooser : IDisposable
{
    private readonly GenerationOptions options;
    private readonly Generator? generator;
    private readonly Tensor? seen; // bool [B, V]: tokens already in each row (repetition penalty only)

    /// <param name="promptTokenIds">each row's prompt token ids (text tokens only) for the repetition penalty, or null</param>
    public TokenChooser(GenerationOptions options, int rows, long vocabSize, Device device, IReadOnlyList<IReadOnlyList<long>>? promptTokenIds)
    {
        this.options = options;
        if (options.Sample)
            generator = new Generator(unchecked((ulong)(options.Seed ?? Random.Shared.NextInt64())), device);
        if (options.RepetitionPenalty != 1.0)
        {
            var host = new bool[rows * vocabSize];
            if (promptTokenIds is not null)
                for (int r = 0; r < rows; r++)
                    foreach (long id in promptTokenIds[r])
                        if (id >= 0 && id < vocabSize) host[r * vocabSize + id] = true;
            seen = tensor(host, [rows, vocabSize], device: device);
            seen.DetachFromDisposeScope();
        }
    }

    /// <summary>Next token id per row [B] for last-position logits [B, V].</summary>
    public Tensor Next(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to(ScalarType.Float32);
        if (seen is not null) scores = LogitsWarpers.RepetitionPenalty(scores, seen, options.RepetitionPenalty);
        if (!options.Sample) return scores.argmax(-1).MoveToOuterDisposeScope();
        if (options.Temperature != 1.0) scores = LogitsWarpers.Temperature(scores, options.Temperature);
        if (options.TopK > 0) scores = LogitsWarpers.TopK(scores, options.TopK);
        if (options.TopP < 1.0) scores = LogitsWarpers.TopP(scores, options.TopP);
        return scores.softmax(-1).multinomial(1, false, generator).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>Records the tokens just chosen ([B]) as part of their rows.</summary>
    public void Observe(Tensor next)
    {
        if (seen is null) return;
        using var scope = NewDisposeScope();
        var index = next.unsqueeze(1);
        seen.scatter_(1, index, ones_like(index, dtype: ScalarType.Bool));
    }

    public void Dispose()
    {
        seen?.Dispose();
        generator?.Dispose();
    }
}
