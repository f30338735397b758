namespace OpenQwen2VL.Model.Generation;

/// <summary>Host-side state of one sequence in a <see cref="DecodingSession"/>; its keys/values and latest token live on the device.</summary>
internal sealed class DecodingSlot(TokenChooser chooser, int budget, StopCriteria? stop, long length, bool greedy) : IDisposable
{
    public TokenChooser Chooser { get; } = chooser;

    /// <summary>Most tokens it may produce (its max new tokens, cut to the model's context).</summary>
    public int Budget { get; } = budget;

    public StopCriteria? Stop { get; } = stop;

    /// <summary>Positions in its cache (prompt + tokens fed back); the next token it is fed goes at this position.</summary>
    public long Length { get; set; } = length;

    /// <summary>Plain argmax (no sampling, no repetition penalty): it can share one argmax with the other such slots.</summary>
    public bool Greedy { get; } = greedy;

    /// <summary>Its first token came from the prefill and is not reported yet (it decodes from the next step on).</summary>
    public bool Fresh { get; set; } = true;

    public List<long> Output { get; } = [];

    public void Dispose() => Chooser.Dispose();
}
