using static TorchSharp.torch;

namespace OpenQwen2VL.Model.Vlm;

/// <summary>
/// Moves right-padded rows to the right edge (left padding, zeros before a row's tokens): generation appends new tokens
/// at the end of every row at once, so each row's real tokens must end at the same slot.
/// </summary>
public static class LeftPadding
{
    /// <param name="embeds">[B, L, D] rows whose real tokens are their first <paramref name="lengths"/></param>
    /// <param name="lengths">real length of each row</param>
    /// <returns>[B, max(lengths), D] with row b's tokens in its last lengths[b] slots</returns>
    public static Tensor FromRightPadded(Tensor embeds, IReadOnlyList<long> lengths)
    {
        using var scope = NewDisposeScope();
        long rows = embeds.shape[0], len = embeds.shape[1], dim = embeds.shape[2];
        long width = lengths.Max();
        long zeroRow = rows * len;
        var index = new long[rows * width];
        for (long b = 0; b < rows; b++)
        {
            long pad = width - lengths[(int)b];
            for (long t = 0; t < width; t++) index[b * width + t] = t < pad ? zeroRow : b * len + t - pad;
        }
        var source = cat([embeds.reshape(rows * len, dim), zeros(1, dim, dtype: embeds.dtype, device: embeds.device)], 0);
        return source.index_select(0, tensor(index, device: embeds.device)).view(rows, width, dim).MoveToOuterDisposeScope();
    }
}
