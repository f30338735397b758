using System.Threading.Channels;
using OpenQwen2VL.Model.Generation;

namespace OpenQwen2VL.Cli.Serving;

/// <summary>
/// One admitted request between its HTTP handler and the generation worker: what to decode, and the channel the worker
/// writes each new token id to (completed when it ends, or with the failure). A client that goes away sets
/// <see cref="Cancelled"/>, and the worker frees its slot at the next step boundary.
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

    public ChannelReader<long> Tokens => tokens.Reader;
    public bool Cancelled => cancelled;
    public void Cancel() => cancelled = true;

    internal void Publish(long id) => tokens.Writer.TryWrite(id);
    internal void Complete(Exception? failure = null) => tokens.Writer.TryComplete(failure);
}
