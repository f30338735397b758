using System.Text;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Deterministic img2dataset-style shards (JPEG + caption + uid json) for tests, benchmarks and smoke
/// runs: no downloads needed to exercise the pack pipeline and the loader.
/// </summary>
public static class SyntheticCaptionShards
{
    private static readonly string[] Words =
        ["a", "photo", "of", "the", "red", "small", "dog", "city", "street", "at", "night", "with", "two", "people",
         "walking", "on", "beach", "mountain", "view", "from", "above", "old", "house", "garden", "flowers", "blue", "sky"];

    /// <summary>Writes <paramref name="shards"/> shards <c>DIR/00000.tar</c>... and returns their paths.</summary>
    public static IReadOnlyList<string> Write(string dir, int shards, int samplesPerShard, int imageSide = 64, int seed = 0)
    {
        var paths = new List<string>();
        for (int s = 0; s < shards; s++)
        {
            var path = Path.Combine(dir, $"{s:D5}.tar");
            using var w = new WebDatasetWriter(path);
            for (int i = 0; i < samplesPerShard; i++)
            {
                int id = s * samplesPerShard + i;
                w.Write($"{id:D9}", Sample(id, imageSide, seed));
            }
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>The members of synthetic sample <paramref name="id"/>: jpg, txt, json.</summary>
    public static Dictionary<string, ReadOnlyMemory<byte>> Sample(int id, int imageSide, int seed = 0)
    {
        var rng = new Random(SeedMixer.Mix(id, seed));
        int w = imageSide + rng.Next(0, imageSide / 2), h = imageSide + rng.Next(0, imageSide / 2);
        return new Dictionary<string, ReadOnlyMemory<byte>>
        {
            ["jpg"] = ImageEncoder.EncodeJpeg(Pattern(w, h, rng), 85),
            ["txt"] = Encoding.UTF8.GetBytes(Caption(rng)),
            ["json"] = Encoding.UTF8.GetBytes($"{{\"uid\": \"uid-{seed}-{id}\"}}"),
        };
    }

    private static string Caption(Random rng)
    {
        // Mostly short captions, a few long ones, so packing sees a realistic spread of lengths.
        int n = rng.Next(100) < 97 ? rng.Next(3, 30) : rng.Next(100, 600);
        return string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[rng.Next(Words.Length)]));
    }

    private static RgbImage Pattern(int w, int h, Random rng)
    {
        var px = new byte[3 * w * h];
        int fx = rng.Next(1, 9), fy = rng.Next(1, 9), phase = rng.Next(256);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = 3 * (y * w + x);
                px[i] = (byte)(x * 255 / w);
                px[i + 1] = (byte)(y * 255 / h);
                px[i + 2] = (byte)(phase + ((x * fx / 16 + y * fy / 16) % 2 == 0 ? 0 : 128));
            }
        return new RgbImage(w, h, px);
    }
}
