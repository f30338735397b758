namespace OpenQwen2VL.Data.Formats;

/// <summary>
/// Bounds on what <see cref="PickleReader"/> materialises, so a crafted pickle costs memory and time set here, not by
/// its shared references or nesting. The defaults are generous for checkpoints: a 7B-parameter state_dict pickle pushes
/// about 10^4-10^5 values and nests 5-6 levels deep.
/// </summary>
/// <param name="MaxValues">
/// Values the reader may materialise in all: every push onto the stack (a new object or a shared reference via DUP or
/// a memo GET), every element added to a tuple, list, dict or object state, every memo entry. 2^25 ≈ 33 million
/// references (≈ 1 GB of managed memory at worst).
/// </param>
/// <param name="MaxDepth">Containers within containers; also the bound of every recursive walk of the result.</param>
/// <param name="MaxIntegerBytes">Bytes of an arbitrary-precision integer (LONG4, protocol-0 INT/LONG digits): no checkpoint value needs more than 8.</param>
public sealed record PickleLimits(long MaxValues = 1L << 25, int MaxDepth = 1000, int MaxIntegerBytes = 1024)
{
    public static PickleLimits Default { get; } = new();
}
