using OpenQwen2VL.Model.Qwen2;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Generation;

/// <summary>
/// Continuous batching: a fixed number of slots, each holding one sequence at its own length in a
/// <see cref="SlotKvCache"/>. <see cref="Add"/> prefills a prompt (its embeddings, image features spliced in) into a
/// free slot and picks its first token; each <see cref="Step"/> reports the tokens not reported yet and decodes one more
/// token for every other active slot, in one forward over just those slots. Sequences join between steps and leave when
/// they finish (or on <see cref="Release"/>), so the batch never waits for its longest member. A slot's tokens do not
/// depend on the others: its prefill is the batch-1 forward, and in a step each row attends only to its own
/// positions (its own rotary positions, a mask over the slots' common key range). One host read per step (the new
/// token ids, which the stop tests and the caller's streaming need); all other state stays on the device.
/// Not thread-safe: one thread owns a session.
/// </summary>
public sealed class DecodingSession : IDisposable
{
    private readonly Qwen2ForCausalLM lm;
    private readonly SlotKvCache cache;
    private readonly DecodingSlot?[] slots;
    private readonly Device device;
    private readonly Tensor lastToken; // int64 [Slots]: each slot's newest token (reported next step, then fed back)
    private readonly Tensor position;  // int64 [Slots]: each slot's cached length = the position of the token it is fed next
    private int[] runningSlots = [];
    private Tensor? runningRows;       // int64 [A] of runningSlots, rebuilt only when the running set changes

    /// <param name="lm">the language model (eval mode)</param>
    /// <param name="slots">most sequences decoded at once</param>
    /// <param name="capacity">most positions one sequence takes (default and at most: the model's max_position_embeddings)</param>
    public DecodingSession(Qwen2ForCausalLM lm, int slots, long? capacity = null)
    {
        this.lm = lm;
        int maxPositions = lm.Config.MaxPositionEmbeddings;
        Capacity = Math.Min(capacity ?? maxPositions, maxPositions);
        cache = new SlotKvCache(lm.Config.NumHiddenLayers, slots, Capacity);
        this.slots = new DecodingSlot?[slots];
        device = lm.parameters().First().device;
        lastToken = zeros(slots, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
        position = zeros(slots, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
    }

    /// <summary>Most positions one sequence takes.</summary>
    public long Capacity { get; }

    public int Slots => slots.Length;

    /// <summary>Sequences held (added and neither finished nor released).</summary>
    public int Active => slots.Count(s => s is not null);

    public bool HasFreeSlot => slots.Any(s => s is null);

    /// <summary>
    /// Prefills a prompt into a free slot and picks its first token (reported by the next <see cref="Step"/>).
    /// </summary>
    /// <param name="promptEmbeds">[1, L, D] prompt embeddings</param>
    /// <param name="options">its decoding options (each slot has its own, and its own seeded generator)</param>
    /// <param name="stop">its stop criteria, or null</param>
    /// <param name="promptTokenIds">its prompt's text ids, for the repetition penalty (null: only generated tokens count)</param>
    /// <returns>the slot</returns>
    /// <exception cref="PromptTooLongException">the prompt leaves no room under max_position_embeddings</exception>
    /// <exception cref="InvalidOperationException">no slot is free</exception>
    public int Add(Tensor promptEmbeds, GenerationOptions options, StopCriteria? stop = null, IReadOnlyList<long>? promptTokenIds = null)
    {
        options.Validate();
        if (promptEmbeds.dim() != 3 || promptEmbeds.shape[0] != 1 || promptEmbeds.shape[1] < 1)
            throw new ArgumentException($"need one prompt [1, L, D], got [{string.Join(", ", promptEmbeds.shape)}]", nameof(promptEmbeds));
        long length = promptEmbeds.shape[1];
        int maxPositions = lm.Config.MaxPositionEmbeddings;
        if (length >= maxPositions) throw new PromptTooLongException((int)Math.Min(length, int.MaxValue), maxPositions);
        int budget = (int)Math.Min(options.MaxNewTokens, maxPositions - length);
        if (budget < 1) throw new ArgumentOutOfRangeException(nameof(options), "MaxNewTokens must be at least 1 in a decoding session");
        // The last token is reported, never fed back: prompt + budget - 1 positions are cached at most.
        if (length + budget - 1 > Capacity)
            throw new ArgumentException($"prompt ({length}) + new tokens ({budget}) exceed the session's {Capacity} positions per sequence", nameof(promptEmbeds));
        int slot = Array.IndexOf(slots, null);
        if (slot < 0) throw new InvalidOperationException($"all {Slots} slots are taken");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var end = length.ToScalar();
        var positions = arange(CachedScalars.Zero, end, CachedScalars.One, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        cache.BeginPrefill(slot);
        var logits = lm.Logits(promptEmbeds, positions, null, cache);
        var chooser = new TokenChooser(options, 1, lm.Config.VocabSize, device, promptTokenIds is null ? null : [promptTokenIds]);
        try
        {
            lastToken.narrow(0, slot, 1).copy_(chooser.Next(logits.select(1, length - 1)));
            position.narrow(0, slot, 1).fill_(end);
        }
        catch
        {
            chooser.Dispose();
            throw;
        }
        slots[slot] = new DecodingSlot(chooser, budget, stop, length, greedy: !options.Sample && options.RepetitionPenalty == 1.0);
        return slot;
    }

    /// <summary>
    /// Reports the newest token of every active slot: the prefill's first token for slots added since the last step,
    /// one newly decoded token for the others. Slots that finish with it are free when this returns.
    /// </summary>
    public IReadOnlyList<DecodedToken> Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var running = Enumerable.Range(0, Slots).Where(s => slots[s] is { Fresh: false }).ToArray();
        if (running.Length > 0) DecodeOne(running);

        var ids = lastToken.cpu().data<long>().ToArray(); // the one host read of the step
        var report = new List<DecodedToken>();
        for (int s = 0; s < Slots; s++)
        {
            if (slots[s] is not { } slot) continue;
            slot.Fresh = false;
            slot.Output.Add(ids[s]);
            bool finished = slot.Output.Count >= slot.Budget || (slot.Stop?.StopsAfter(slot.Output) ?? false);
            report.Add(new DecodedToken(s, ids[s], finished));
            if (finished) Release(s);
            else slot.Chooser.Observe(lastToken.narrow(0, s, 1));
        }
        return report;
    }

    /// <summary>Frees a slot now (its caller gave up on it, e.g. the client went away); nothing happens for a free slot.</summary>
    public void Release(int slot)
    {
        slots[slot]?.Dispose();
        slots[slot] = null;
    }

    /// <summary>Tokens reported so far for an active slot.</summary>
    public IReadOnlyList<long> Output(int slot) => slots[slot]?.Output ?? throw new ArgumentException($"slot {slot} is free", nameof(slot));

    /// <summary>One forward over the running slots: feeds each its newest token and leaves the next in <see cref="lastToken"/>.</summary>
    private void DecodeOne(int[] running)
    {
        if (!running.SequenceEqual(runningSlots))
        {
            runningRows?.Dispose();
            runningRows = tensor(running.Select(s => (long)s).ToArray(), device: device).DetachFromDisposeScope();
            runningSlots = running;
        }
        var rows = runningRows!;
        long keys = running.Max(s => slots[s]!.Length) + 1;
        var fed = lastToken.index_select(0, rows);                          // [A]
        var at = position.index_select(0, rows);                            // [A]
        using var count = keys.ToScalar();
        var keyIndex = arange(CachedScalars.Zero, count, CachedScalars.One, dtype: ScalarType.Int64, device: device);
        var mask = keyIndex.unsqueeze(0).le(at.unsqueeze(1)).view(running.Length, 1, 1, keys); // a slot sees its own positions 0..at
        cache.BeginDecode(rows, at, keys);
        var logits = lm.Logits(lm.Embed(fed.unsqueeze(1)), at.unsqueeze(1), mask, cache).select(1, 0); // [A, V]
        Tensor next;
        if (running.All(s => slots[s]!.Greedy)) next = logits.to(ScalarType.Float32).argmax(-1);
        else next = cat(running.Select((s, i) => slots[s]!.Chooser.Next(logits.narrow(0, i, 1))).ToArray(), 0);
        lastToken.index_copy_(0, rows, next);
        position.index_add_(0, rows, ones_like(at), CachedScalars.One);
        foreach (int s in running) slots[s]!.Length++;
    }

    public void Dispose()
    {
        for (int s = 0; s < Slots; s++) Release(s);
        runningRows?.Dispose();
        lastToken.Dispose();
        position.Dispose();
        cache.Dispose();
    }
}
