using System.Threading.Channels;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// One admitted request between its HTTP handler and the generation worker: what to decode, and the channel the worker
/// writes each new token id to (completed when the row ends, or with the failure). A client that goes away sets
/// <see cref="Cancelled"/>, and the worker ends its row at the next step.
/// </summary>
public sealed class PendingCompletion
{
    private readonly Channel<long> tokens = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private volatile bool cancelled;

    public required long[] PromptIds { get; init; }
    public required IReadOnlyList<float[]> Images { get; init; }
    public required int MaxTokens { get; init; }
    public required GenerationOptions Options { get; init; }
    public required StopCriteria Stop { get; init; }

    /// <summary>Requests of equal keys can share a batch (one set of decoding options); a seeded request runs alone so its draws repeat.</summary>
    public string BatchKey => Options.Sample
        ? Options.Seed is null ? $"sample {Options.Temperature} {Options.TopP}" : $"seeded {GetHashCode()}"
        : "greedy";

    public ChannelReader<long> Tokens => tokens.Reader;
    public bool Cancelled => cancelled;
    public void Cancel() => cancelled = true;

    internal void Publish(long id) => tokens.Writer.TryWrite(id);
    internal void Complete(Exception? failure = null) => tokens.Writer.TryComplete(failure);
}
