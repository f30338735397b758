using System.Runtime.InteropServices;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// One decoded image as 4-byte RGBx pixels (alpha already composited over white, fourth byte 255) in native memory,
/// together with the <see cref="ImageLimits.DecodeBudget"/> lease that covers them: <see cref="Dispose"/> frees the
/// pixels and returns the lease at the same moment, so the budget counts exactly the pixels alive. Native rather than
/// managed because an 88 MP image is a 353 MB large-object-heap array that the GC returns to the OS late: with
/// managed buffers, pack's peak memory grew with garbage (3.3 GB on eight 9400x9400 PNGs under a 512 MiB budget);
/// freed native memory of this size is unmapped at once.
/// </summary>
public sealed unsafe class DecodedImage : IDisposable
{
    private byte* _pixels;
    private PixelBudget.Lease? _lease;

    internal DecodedImage(byte* pixels, int width, int height, PixelBudget.Lease lease)
    {
        _pixels = pixels;
        _lease = lease;
        Width = width;
        Height = height;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>The RGBx pixels, row-major, no row padding (4 * Width * Height bytes); valid until disposed.</summary>
    public ReadOnlySpan<byte> Rgbx
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pixels is null, this);
            return new ReadOnlySpan<byte>(_pixels, 4 * Width * Height);
        }
    }

    /// <summary>A managed 3-byte RGB copy (caller-owned, outside the decode budget: meant for small images).</summary>
    public RgbImage ToRgb()
    {
        var src = Rgbx;
        var rgb = new byte[3 * Width * Height];
        for (int s = 0, d = 0; d < rgb.Length; s += 4, d += 3)
        {
            rgb[d] = src[s]; rgb[d + 1] = src[s + 1]; rgb[d + 2] = src[s + 2];
        }
        return new RgbImage(Width, Height, rgb);
    }

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    /// <summary>A forgotten Dispose must not leak the pixels or starve the budget for the rest of the process.</summary>
    ~DecodedImage() => Release();

    private void Release()
    {
        var pixels = _pixels;
        _pixels = null;
        if (pixels is not null) NativeMemory.Free(pixels);
        Interlocked.Exchange(ref _lease, null)?.Dispose();
    }
}
