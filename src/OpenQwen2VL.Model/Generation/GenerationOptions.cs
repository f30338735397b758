namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// How to generate: greedy by default; with <see cref="Sample"/>, tokens are drawn after HF's logits warpers in HF's
/// order (repetition penalty, temperature, top-k, top-p). The repetition penalty applies to greedy decoding too.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Most new tokens per row (each row is also capped at the model's max_position_embeddings).</summary>
    public int MaxNewTokens { get; init; } = 16;

    /// <summary>Decode with the preallocated key/value cache (false: re-run the whole sequence every step; same tokens).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Draw each token from the warped distribution instead of taking the argmax.</summary>
    public bool Sample { get; init; }

    /// <summary>Logits are divided by this before sampling (&gt; 0).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus sampling: keep the most likely tokens whose probabilities sum to at least this, in (0, 1]; 1 is off.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens; 0 is off.</summary>
    public int TopK { get; init; }

    /// <summary>
    /// HF's repetition penalty (&gt; 0; 1 is off): the logit of every token already in the sequence (prompt text and
    /// generated tokens) is divided by it when positive and multiplied by it when negative.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of the sampling generator (same seed, same tokens); null draws one.</summary>
    public long? Seed { get; init; }

    /// <summary>Greedy decoding of at most <paramref name="maxNewTokens"/> tokens.</summary>
    public static GenerationOptions Greedy(int maxNewTokens, bool useCache = true) => new() { MaxNewTokens = maxNewTokens, UseCache = useCache };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of its range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxNewTokens);
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "must be > 0");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "must be in (0, 1]");
        ArgumentOutOfRangeException.ThrowIfNegative(TopK);
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty)) throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "must be > 0");
    }
}
