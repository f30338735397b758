using System.Collections.Concurrent;
using OpenQwen2VL.Model.Generation;
using OpenQwen2VL.Model.Vlm;
using static TorchSharp.torch;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// The one thread that touches libtorch (TorchSharp is not thread-safe for one model). It takes the requests queued
/// when a batch starts, up to <c>maxBatch</c> of one decoding setup (<see cref="PendingCompletion.BatchKey"/>), and
/// decodes them together with the batched generation; each row streams its tokens and ends on its own. Requests that
/// arrive meanwhile wait for the next batch (they do not join a running one). At most <c>maxBatch + maxQueue</c>
/// requests are admitted at once; beyond that <see cref="TryEnqueue"/> refuses.
/// </summary>
public sealed class GenerationWorker : IDisposable
{
    private readonly LoadedVlm model;
    private readonly int maxBatch, capacity;
    private readonly BlockingCollection<PendingCompletion> queue = new();
    private readonly Thread thread;
    private int admitted;

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

    /// <summary>Queues a request, or returns false when the queue is full (the caller answers 429).</summary>
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
        var waiting = new List<PendingCompletion>();
        while (true)
        {
            if (waiting.Count == 0)
            {
                if (!queue.TryTake(out var first, Timeout.Infinite)) return; // stopped and drained
                waiting.Add(first);
            }
            while (queue.TryTake(out var more)) waiting.Add(more);
            foreach (var gone in waiting.Where(w => w.Cancelled).ToList()) Finish(gone, waiting);
            if (waiting.Count == 0) continue;
            string key = waiting[0].BatchKey;
            var batch = waiting.Where(w => w.BatchKey == key).Take(maxBatch).ToList();
            waiting.RemoveAll(batch.Contains);
            Decode(batch);
            foreach (var done in batch) Interlocked.Decrement(ref admitted);
        }
    }

    private void Finish(PendingCompletion request, List<PendingCompletion> waiting)
    {
        waiting.Remove(request);
        request.Complete();
        Interlocked.Decrement(ref admitted);
    }

    private void Decode(List<PendingCompletion> batch)
    {
        try
        {
            using var scope = NewDisposeScope();
            var prompts = batch.Select(r => new GenerationPrompt(r.PromptIds, Pixels(r.Images), r.Stop)).ToArray();
            var options = batch[0].Options with { MaxNewTokens = batch.Max(r => r.MaxTokens) };
            var counts = new int[batch.Count];
            model.Model.Generate(prompts, options, (row, id) =>
            {
                var request = batch[row];
                request.Publish(id);
                // Each row keeps to its own max_tokens; a client gone frees its row now.
                return ++counts[row] < request.MaxTokens && !request.Cancelled;
            });
            foreach (var request in batch) request.Complete();
        }
        catch (Exception e)
        {
            foreach (var request in batch) request.Complete(e);
        }
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

    /// <summary>Stops taking requests, lets the queued ones finish, and joins the thread.</summary>
    public void Dispose()
    {
        queue.CompleteAdding();
        thread.Join();
        queue.Dispose();
    }
}
