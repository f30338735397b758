using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Images;

/// <summary>
/// Open-Qwen2VL's "resize-naive" image transform, bit-compatible with torchvision's
/// <c>Resize((S, S), BICUBIC, antialias=True)</c> on a PIL image → <c>ToTensor</c> → <c>Normalize(mean, std)</c>:
/// decode → RGB (alpha over white) → PIL bicubic resize to exactly S x S (no crop, no letterbox) → v/255 →
/// (x - mean) / std, written as float32 CHW [3, S, S]. Thread-safe; each thread keeps its own scratch buffers.
/// </summary>
public sealed class ImagePreprocessor
{
    /// <summary>Scratch buffers larger than this are dropped after use instead of being kept per thread.</summary>
    private const int MaxRetainedScratchBytes = 32 << 20;

    [ThreadStatic] private static byte[]? t_resized;

    private readonly float[] _mean;
    private readonly float[] _std;
    /// <summary>Per channel, the normalised value of each byte: the same float32 arithmetic torchvision does.</summary>
    private readonly float[][] _lut;

    /// <summary>Output side length S.</summary>
    public int Size { get; }
    public IReadOnlyList<float> Mean => _mean;
    public IReadOnlyList<float> Std => _std;
    /// <summary>Floats per image: 3 * S * S.</summary>
    public int OutputLength => 3 * Size * Size;

    public ImagePreprocessor(int size, float[] mean, float[] std)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length != 3 || std.Length != 3) throw new ArgumentException("mean and std need 3 values (R, G, B)");
        if (std.Any(s => s == 0 || !float.IsFinite(s))) throw new ArgumentException("std must be finite and non-zero", nameof(std));
        Size = size;
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
        _lut = new float[3][];
        for (int c = 0; c < 3; c++)
        {
            _lut[c] = new float[256];
            for (int v = 0; v < 256; v++) _lut[c][v] = (v / 255f - _mean[c]) / _std[c];
        }
    }

    /// <summary>The recipe's "resize-naive" transform: resize to <paramref name="size"/>, normalise with mean 0.5 / std 0.5 (SigLIP's).</summary>
    public static ImagePreprocessor ResizeNaive(int size) => new(size, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);

    /// <summary>
    /// From a SigLIP checkpoint's HF files: the image size from <paramref name="configJsonPath"/>
    /// (<c>vision_config.image_size</c> of a SiglipModel, or top-level <c>image_size</c> of a SiglipVisionModel;
    /// HF's default 224 when absent) and, if given and present, <c>image_mean</c>/<c>image_std</c> from a
    /// <c>preprocessor_config.json</c>; otherwise SigLIP's 0.5/0.5.
    /// </summary>
    public static ImagePreprocessor FromHuggingFace(string configJsonPath, string? preprocessorConfigPath = null)
    {
        using var config = JsonDocument.Parse(BoundedFile.ReadAllBytes(configJsonPath, BoundedFile.SmallJsonMaxBytes, "a model config"));
        var root = config.RootElement;
        var vision = root.TryGetProperty("vision_config", out var vc) ? vc : root;
        int size = vision.TryGetProperty("image_size", out var s) ? s.GetInt32() : 224;
        float[] mean = [0.5f, 0.5f, 0.5f], std = [0.5f, 0.5f, 0.5f];
        if (preprocessorConfigPath is not null && File.Exists(preprocessorConfigPath))
        {
            using var pre = JsonDocument.Parse(BoundedFile.ReadAllBytes(preprocessorConfigPath, BoundedFile.SmallJsonMaxBytes, "a preprocessor config"));
            if (pre.RootElement.TryGetProperty("image_mean", out var m)) mean = m.EnumerateArray().Select(e => e.GetSingle()).ToArray();
            if (pre.RootElement.TryGetProperty("image_std", out var d)) std = d.EnumerateArray().Select(e => e.GetSingle()).ToArray();
        }
        return new ImagePreprocessor(size, mean, std);
    }

    /// <summary><see cref="FromHuggingFace"/> on a model folder (config.json, optional preprocessor_config.json).</summary>
    public static ImagePreprocessor FromModelDirectory(string dir) =>
        FromHuggingFace(Path.Combine(dir, "config.json"), Path.Combine(dir, "preprocessor_config.json"));

    /// <summary>Decodes and preprocesses one encoded image into <paramref name="destination"/> (<see cref="OutputLength"/> floats).</summary>
    public bool TryPreprocess(ReadOnlySpan<byte> encoded, ImageLimits limits, Span<float> destination, out string? skipReason)
    {
        CheckDestination(destination, 1);
        // Native pixels that hold their decode-budget lease until resized, then are freed (no full-size managed garbage).
        if (!ImageDecoder.TryDecodeRgbx(encoded, limits, out DecodedImage? decoded, out skipReason)) return false;
        using (decoded) ResizeAndNormalize(decoded.Rgbx, decoded.Width, decoded.Height, 4, destination);
        return true;
    }

    /// <summary>Preprocesses a decoded image into <paramref name="destination"/> (<see cref="OutputLength"/> floats).</summary>
    public void Preprocess(RgbImage image, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckDestination(destination, 1);
        ResizeAndNormalize(image.Pixels, image.Width, image.Height, 3, destination);
    }

    /// <summary>Preprocesses a decoded image into a new CHW array.</summary>
    public float[] Preprocess(RgbImage image)
    {
        var dst = new float[OutputLength];
        Preprocess(image, dst);
        return dst;
    }

    /// <summary>
    /// Decodes and preprocesses a batch into <paramref name="destination"/> ([N, 3, S, S], e.g. a pinned batch buffer).
    /// A skipped image leaves zeros in its slot and its reason in <paramref name="skipReasons"/> (null when kept).
    /// Returns how many were kept.
    /// </summary>
    public int PreprocessBatch(IReadOnlyList<ReadOnlyMemory<byte>> encoded, ImageLimits limits, Span<float> destination, Span<string?> skipReasons)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        CheckDestination(destination, encoded.Count);
        if (skipReasons.Length < encoded.Count) throw new ArgumentException("one skip-reason slot per image", nameof(skipReasons));
        int kept = 0;
        for (int i = 0; i < encoded.Count; i++)
        {
            var slot = destination.Slice(i * OutputLength, OutputLength);
            if (TryPreprocess(encoded[i].Span, limits, slot, out skipReasons[i])) kept++;
            else slot.Clear();
        }
        return kept;
    }

    /// <summary>Preprocesses decoded images into <paramref name="destination"/> ([N, 3, S, S]).</summary>
    public void PreprocessBatch(IReadOnlyList<RgbImage> images, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckDestination(destination, images.Count);
        for (int i = 0; i < images.Count; i++) Preprocess(images[i], destination.Slice(i * OutputLength, OutputLength));
    }

    /// <summary>
    /// 8 RGBx pixels at a time: each pixel is one int lane, channels are masked out, converted and normalised with
    /// the same float32 operations as the table (v / 255 - mean) / std, so results are identical. Returns pixels done.
    /// </summary>
    private int NormalizeRgbxVectorized(byte[] rgbx, int n, Span<float> destination)
    {
        var pixels = MemoryMarshal.Cast<byte, int>(rgbx.AsSpan(0, 4 * n));
        var red = destination[..n];
        var green = destination.Slice(n, n);
        var blue = destination.Slice(2 * n, n);
        var mask = Vector256.Create(0xFF);
        var v255 = Vector256.Create(255f);
        Vector256<float> m0 = Vector256.Create(_mean[0]), m1 = Vector256.Create(_mean[1]), m2 = Vector256.Create(_mean[2]);
        Vector256<float> s0 = Vector256.Create(_std[0]), s1 = Vector256.Create(_std[1]), s2 = Vector256.Create(_std[2]);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var px = Vector256.Create<int>(pixels.Slice(i, 8));
            var r = Vector256.ConvertToSingle(px & mask);
            var g = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(px, 8) & mask);
            var b = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(px, 16) & mask);
            ((r / v255 - m0) / s0).CopyTo(red.Slice(i, 8));
            ((g / v255 - m1) / s1).CopyTo(green.Slice(i, 8));
            ((b / v255 - m2) / s2).CopyTo(blue.Slice(i, 8));
        }
        return i;
    }

    private void CheckDestination(Span<float> destination, int images)
    {
        if (destination.Length < (long)images * OutputLength)
            throw new ArgumentException($"destination holds {destination.Length} floats, {images} image(s) need {(long)images * OutputLength}", nameof(destination));
    }

    private void ResizeAndNormalize(ReadOnlySpan<byte> pixels, int w, int h, int channels, Span<float> destination)
    {
        int n = Size * Size;
        byte[] resized = t_resized is { } r && r.Length >= channels * n ? r : new byte[4 * n];
        BicubicResampler.Resize(pixels, w, h, channels, resized, Size, Size);
        int i = channels == 4 && Vector256.IsHardwareAccelerated ? NormalizeRgbxVectorized(resized, n, destination) : 0;
        var red = destination[..n];
        var green = destination.Slice(n, n);
        var blue = destination.Slice(2 * n, n);
        float[] lr = _lut[0], lg = _lut[1], lb = _lut[2];
        for (int p = channels * i; i < n; i++, p += channels)
        {
            red[i] = lr[resized[p]];
            green[i] = lg[resized[p + 1]];
            blue[i] = lb[resized[p + 2]];
        }
        if (resized.Length <= MaxRetainedScratchBytes) t_resized = resized;
    }
}
