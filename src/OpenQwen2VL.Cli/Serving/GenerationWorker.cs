using System.Collections.Concurrent;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// The one thread that touches libtorch (TorchSharp is not thread-safe for one model), running continuous batching on a
/// <see cref="DecodingSession"/> of <c>maxBatch</c> slots: at every step boundary queued requests join the running
/// batch while slots are free (each prefilled alone), requests whose client went away leave, and one step decodes a
/// token for every running request; a request leaves as soon as it finishes. At most <c>maxBatch + maxQueue</c> requests
/// are admitted at once; beyond that <see cref="TryEnqueue"/> refuses (the caller answers 429).
/// </summary>
public sealed class GenerationWorker : IDisposable
{
    private readonly LoadedVlm model;
    private readonly int maxBatch, capacity;
    private readonly BlockingCollection<PendingCompletion> queue = new();
    private readonly Thread thread;
    private int admitted, decoding;

    public GenerationWorker(LoadedVlm model, int maxBatch, int maxQueue)
    {
        this.model = model;
        this.maxBatch = maxBatch;
        capacity = maxBatch + maxQueue;
        thread = new Thread(Loop) { IsBackground = true, Name = "oqvl generation" };
        thread.Start();
    }

    /// <summary>Requests admitted and not yet finished (queued or decoding).</summary>
    public int Admitted => Volatile.Read(ref admitted);

    /// <summary>Requests holding a decoding slot.</summary>
    public int Decoding => Volatile.Read(ref decoding);

    /// <summary>Queues a request, or returns false when the queue is full or the worker is stopping.</summary>
    public bool TryEnqueue(PendingCompletion request)
    {
        if (Interlocked.Increment(ref admitted) > capacity)
        {
            Interlocked.Decrement(ref admitted);
            return false;
        }
        try { queue.Add(request); }
        catch (InvalidOperationException)
        {
            Interlocked.Decrement(ref admitted); // stopping: no new work
            return false;
        }
        return true;
    }

    private void Loop()
    {
        using var session = new DecodingSession(model.Model.Llm, maxBatch);
        var bySlot = new PendingCompletion?[maxBatch];
        while (true)
        {
            // Step boundary. Idle: wait for work (or the end: stopped and drained). Busy: take what is queued, up to the free slots.
            if (session.Active == 0)
            {
                if (!queue.TryTake(out var first, Timeout.Infinite)) return;
                Join(session, bySlot, first);
            }
            while (session.HasFreeSlot && queue.TryTake(out var next)) Join(session, bySlot, next);
            for (int s = 0; s < bySlot.Length; s++)
                if (bySlot[s] is { Cancelled: true } gone) Leave(session, bySlot, s, gone); // the client went away: free its slot now
            Volatile.Write(ref decoding, session.Active);
            if (session.Active == 0) continue;

            IReadOnlyList<DecodedToken> tokens;
            try { tokens = session.Step(); }
            catch (Exception e)
            {
                for (int s = 0; s < bySlot.Length; s++)
                    if (bySlot[s] is { } failed) Leave(session, bySlot, s, failed, e);
                continue;
            }
            foreach (var token in tokens)
            {
                var request = bySlot[token.Slot]!;
                request.Publish(token.Id);
                if (token.Finished) Leave(session, bySlot, token.Slot, request); // the session freed the slot already
            }
        }
    }

    /// <summary>Prefills a request into a free slot; a request already cancelled, or one that fails, is finished instead.</summary>
    private void Join(DecodingSession session, PendingCompletion?[] bySlot, PendingCompletion request)
    {
        if (request.Cancelled)
        {
            Finish(request);
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            var embeds = model.Model.PromptEmbeds(new GenerationPrompt(request.PromptIds, Pixels(request.Images)));
            var textIds = request.PromptIds.Where(t => t >= 0).ToArray();
            int slot = session.Add(embeds, request.Options with { MaxNewTokens = request.MaxTokens }, request.Stop, textIds);
            bySlot[slot] = request;
        }
        catch (Exception e) { Finish(request, e); }
    }

    private void Leave(DecodingSession session, PendingCompletion?[] bySlot, int slot, PendingCompletion request, Exception? failure = null)
    {
        session.Release(slot);
        bySlot[slot] = null;
        Finish(request, failure);
    }

    private void Finish(PendingCompletion request, Exception? failure = null)
    {
        request.Complete(failure);
        Interlocked.Decrement(ref admitted);
    }

    /// <summary>[N, 3, S, S] pixels in the vision tower's dtype and device (inside the caller's dispose scope), or null.</summary>
    private Tensor? Pixels(IReadOnlyList<float[]> images)
    {
        if (images.Count == 0) return null;
        var pre = model.Preprocessor;
        var data = new float[(long)images.Count * pre.OutputLength];
        for (int i = 0; i < images.Count; i++) images[i].CopyTo(data, (long)i * pre.OutputLength);
        var weight = model.Model.VisionBackbone.parameters().First();
        return tensor(data, [images.Count, 3, pre.Size, pre.Size]).to(weight.dtype, weight.device);
    }

    /// <summary>Stops taking requests, lets the admitted ones finish, and joins the thread.</summary>
    public void Dispose()
    {
        queue.CompleteAdding();
        thread.Join();
        queue.Dispose();
    }
}
