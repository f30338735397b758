using System.Globalization;
using System.Text.Json;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using Xunit.Abstractions;

namespace OpenQwen2VL.Tests.Images;

/// <summary>
/// Our preprocessing against torchvision/PIL's on the reference fixtures (preprocess_case.safetensors): every size,
/// file name and normalisation constant comes from the fixture metadata and tensor shapes.
/// </summary>
[Trait("Category", "Parity")]
public class PreprocessParityTests(ITestOutputHelper output)
{
    private const double MaxMeanAbsError = 0.005, MaxAbsError = 0.05;   // fixtures README, normalised units

    private sealed record Case(string[] Files, int Size, float[] Mean, float[] Std, float[] PixelValues);

    private static Case LoadCase()
    {
        using var st = SafetensorsFile.Open(ReferenceFixtures.File("preprocess_case.safetensors"));
        var files = JsonSerializer.Deserialize<string[]>(st.Metadata["files"])!;
        int size = int.Parse(st.Metadata["size"], CultureInfo.InvariantCulture);
        var shape = st["pixel_values"].Shape;
        Assert.Equal(new long[] { files.Length, 3, size, size }, shape);
        return new Case(files, size, Channels(st.Metadata, "mean"), Channels(st.Metadata, "std"), st.ReadFloat32("pixel_values"));
    }

    /// <summary>"0.5" (one value for all channels) or a JSON list of three.</summary>
    private static float[] Channels(IReadOnlyDictionary<string, string> meta, string key)
    {
        if (!meta.TryGetValue(key, out var text)) return [0.5f, 0.5f, 0.5f];
        if (text.TrimStart().StartsWith('[')) return JsonSerializer.Deserialize<float[]>(text)!;
        float v = float.Parse(text, CultureInfo.InvariantCulture);
        return [v, v, v];
    }

    private static (double Mae, double Max) Errors(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double sum = 0, max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            sum += d;
            max = Math.Max(max, d);
        }
        return (sum / expected.Length, max);
    }

    [Fact]
    public void PreprocessingMatchesTorchvisionOnPil()
    {
        var c = LoadCase();
        var pre = new ImagePreprocessor(c.Size, c.Mean, c.Std);
        int n = pre.OutputLength;
        var batch = new float[c.Files.Length * n];
        var encoded = c.Files.Select(f => (ReadOnlyMemory<byte>)File.ReadAllBytes(ReferenceFixtures.File("images", f))).ToList();
        var reasons = new string?[c.Files.Length];
        Assert.Equal(c.Files.Length, pre.PreprocessBatch(encoded, ImageLimits.Default, batch, reasons));
        for (int i = 0; i < c.Files.Length; i++)
        {
            var (mae, max) = Errors(batch.AsSpan(i * n, n), c.PixelValues.AsSpan(i * n, n));
            output.WriteLine($"{c.Files[i]}: MAE {mae:E3}, max {max:E3}");
            Assert.True(mae <= MaxMeanAbsError, $"{c.Files[i]}: MAE {mae} > {MaxMeanAbsError}");
            Assert.True(max <= MaxAbsError, $"{c.Files[i]}: max abs error {max} > {MaxAbsError}");
        }
    }

    [Fact]
    public void DecodedImagePathGivesTheSameValuesAsTheBytePath()
    {
        var c = LoadCase();
        var pre = new ImagePreprocessor(c.Size, c.Mean, c.Std);
        foreach (var f in c.Files)
        {
            var bytes = File.ReadAllBytes(ReferenceFixtures.File("images", f));
            Assert.True(ImageDecoder.TryDecode(bytes, ImageLimits.Default, out var img, out _));
            var fromBytes = new float[pre.OutputLength];
            Assert.True(pre.TryPreprocess(bytes, ImageLimits.Default, fromBytes, out _));
            Assert.Equal(fromBytes, pre.Preprocess(img!));
        }
    }

    [Fact]
    public void PlainBicubicWithoutAntialiasMissesTheBound()
    {
        var c = LoadCase();
        var pre = new ImagePreprocessor(c.Size, c.Mean, c.Std);
        int n = pre.OutputLength, plane = c.Size * c.Size;
        bool anyOutside = false;
        for (int i = 0; i < c.Files.Length; i++)
        {
            Assert.True(ImageDecoder.TryDecode(File.ReadAllBytes(ReferenceFixtures.File("images", c.Files[i])), ImageLimits.Default, out var img, out _));
            var rgb = PlainBicubic.Resize(img!, c.Size, c.Size);
            var plain = new float[n];
            for (int p = 0; p < plane; p++)
                for (int ch = 0; ch < 3; ch++)
                    plain[ch * plane + p] = (rgb[3 * p + ch] / 255f - c.Mean[ch]) / c.Std[ch];
            var (mae, max) = Errors(plain, c.PixelValues.AsSpan(i * n, n));
            output.WriteLine($"{c.Files[i]} plain bicubic: MAE {mae:E3}, max {max:E3}");
            anyOutside |= mae > MaxMeanAbsError || max > MaxAbsError;
        }
        Assert.True(anyOutside, "a non-antialiased bicubic sample should not reach the parity bound on a downscaled image");
    }

    [Fact]
    public void FactoryReadsSizeAndNormalisationFromTheSiglipConfig()
    {
        var c = LoadCase();
        var pre = ImagePreprocessor.FromModelDirectory(ReferenceFixtures.File("siglip"));
        Assert.Equal(c.Size, pre.Size);
        Assert.Equal(c.Mean, pre.Mean);
        Assert.Equal(c.Std, pre.Std);
    }
}
