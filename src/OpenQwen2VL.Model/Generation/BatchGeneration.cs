using OpenQwen2VL.Model.Qwen2;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// Generation for a ragged batch of prompts given as input embeddings (the VLM passes embeddings with image tokens
/// spliced in), left-padded: row b's real tokens are its last <c>promptLengths[b]</c> positions. Rotary positions count
/// only a row's real tokens and padding is masked out of attention, so a padded row gets the logits it gets alone.
/// With the key/value cache (preallocated to prompt + new tokens) only the new token runs per step; without, the whole
/// sequence re-runs each step; both give the same tokens. Each row stops on its own (<see cref="StopCriteria"/>, its
/// token budget, or the model's max_position_embeddings); a stopped row's later tokens are computed but dropped.
/// </summary>
public static class BatchGeneration
{
    /// <param name="lm">the language model</param>
    /// <param name="promptEmbeds">[B, L, D] left-padded prompt embeddings (padding values are never attended to)</param>
    /// <param name="promptLengths">real prompt length of each row, 1..L</param>
    /// <param name="options">decoding options</param>
    /// <param name="stops">stop criteria per row (null: none)</param>
    /// <param name="promptTokenIds">each row's prompt token ids, for the repetition penalty (null: only generated tokens count)</param>
    /// <param name="onToken">called with (row, id) for each token a row keeps, as it is generated (streaming); returning
    /// false ends that row after this token (a client gone, its own budget reached)</param>
    /// <returns>new ids per row; a row's stop token is included</returns>
    /// <exception cref="PromptTooLongException">a row's prompt leaves no room under max_position_embeddings</exception>
    public static long[][] Run(Qwen2ForCausalLM lm, Tensor promptEmbeds, IReadOnlyList<long> promptLengths, GenerationOptions options,
        IReadOnlyList<StopCriteria?>? stops = null, IReadOnlyList<IReadOnlyList<long>>? promptTokenIds = null, Func<int, long, bool>? onToken = null)
    {
        options.Validate();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int rows = (int)promptEmbeds.shape[0];
        long width = promptEmbeds.shape[1];
        if (promptLengths.Count != rows || promptLengths.Any(l => l < 1 || l > width))
            throw new ArgumentException($"need one prompt length in [1, {width}] per row ({rows} rows)", nameof(promptLengths));
        if (stops is not null && stops.Count != rows) throw new ArgumentException($"need one stop criteria per row ({rows} rows)", nameof(stops));
        int maxPositions = lm.Config.MaxPositionEmbeddings;
        foreach (long length in promptLengths)
            if (length >= maxPositions) throw new PromptTooLongException((int)Math.Min(length, int.MaxValue), maxPositions);
        // Each row's budget: the option, cut so prompt + output stay within max_position_embeddings (HF's max_length cap).
        var budgets = promptLengths.Select(l => (int)Math.Min(options.MaxNewTokens, maxPositions - l)).ToArray();
        int steps = budgets.Max();
        var outputs = Enumerable.Range(0, rows).Select(_ => new List<long>()).ToArray();
        if (steps == 0) return outputs.Select(o => o.ToArray()).ToArray();

        var device = promptEmbeds.device;
        bool padded = promptLengths.Any(l => l != width);
        // Which cache slots hold real tokens (prompt padding does not; every generated slot does), and prompt positions.
        long total = width + steps;
        var realHost = new bool[rows * total];
        var positionHost = new long[rows * width];
        for (int r = 0; r < rows; r++)
        {
            long pad = width - promptLengths[r];
            for (long t = pad; t < total; t++) realHost[r * total + t] = true;
            for (long t = pad; t < width; t++) positionHost[r * width + t] = t - pad;
        }
        var realKeys = tensor(realHost, [rows, total], device: device);
        var nextPosition = tensor(promptLengths.ToArray(), [rows, 1], device: device);

        var finished = new bool[rows];
        using var cache = options.UseCache ? lm.NewCache(total) : null;
        using var chooser = new TokenChooser(options, rows, lm.Config.VocabSize, device, promptTokenIds);
        // Cached: the step's new inputs; uncached: the whole sequence so far. The prompt embeddings are the caller's.
        var input = promptEmbeds;
        var positions = tensor(positionHost, [rows, width], device: device);
        long cached = 0;
        for (int step = 0; step < steps; step++)
        {
            using var stepScope = NewDisposeScope();
            long queries = input.shape[1], keyOffset = options.UseCache ? cached : 0;
            var mask = padded ? PaddedAttentionMask.Build(realKeys, keyOffset, queries) : null;
            var logits = lm.Logits(input, positions, mask, cache);
            var next = chooser.Next(logits.select(1, queries - 1)); // [B]
            // One host read per generated token: the stop tests need the ids.
            var ids = next.cpu().data<long>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                if (finished[r]) continue;
                outputs[r].Add(ids[r]);
                bool more = onToken?.Invoke(r, ids[r]) ?? true;
                if (!more || outputs[r].Count >= budgets[r] || (stops?[r]?.StopsAfter(outputs[r]) ?? false)) finished[r] = true;
            }
            if (finished.All(f => f)) break;

            chooser.Observe(next);
            var nextEmbeds = lm.Embed(next.unsqueeze(1));
            var nextPositions = nextPosition.clone();
            nextPosition.add_(CachedScalars.One, CachedScalars.One);
            cached += queries;
            Tensor newInput, newPositions;
            if (options.UseCache) (newInput, newPositions) = (nextEmbeds, nextPositions);
            else (newInput, newPositions) = (cat([input, nextEmbeds], 1), cat([positions, nextPositions], 1));
            // Carry the next inputs out of this step and free the previous ones now (the prompt belongs to the caller).
            if (!ReferenceEquals(input, promptEmbeds)) input.Dispose();
            positions.Dispose();
            input = newInput.MoveToOuterDisposeScope();
            positions = newPositions.MoveToOuterDisposeScope();
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
