using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// <c>oqvl pack</c> end to end on synthetic img2dataset shards (~512 px JPEGs, short captions): samples/s
/// with 1 and all threads, per core, and per CPU-second against plain single-thread loops over the same images in the
/// same run (decode only; decode + shrink + encode for re-encoding). Tokenizer: tests' fixture tokenizer.json, or
/// OQVL_TOKENIZER.
/// </summary>
public sealed class PackBenchmark : IBenchmark
{
    public string Name => "pack";
    public string Description => "oqvl pack end to end on synthetic shards: samples/s per core";

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var tokPath = Environment.GetEnvironmentVariable("OQVL_TOKENIZER") ?? FindFixtureTokenizer();
        var tokenizer = BpeTokenizer.Load(tokPath);
        var dir = Directory.CreateTempSubdirectory("oqvl-bench-pack-").FullName;
        try
        {
            int shards = quick ? 2 : 4, perShard = quick ? 40 : 150;
            var input = SyntheticCaptionShards.Write(Path.Combine(dir, "in"), shards, perShard, imageSide: 448);
            int n = shards * perShard;
            // Warm-up (JIT, tokenizer cache) on one shard so the first measured row is not penalised.
            new PackPipeline(tokenizer, new PackOptions()).Run([input[0]], Path.Combine(dir, "warmup"));
            string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            yield return new BenchRow($"input: {n} samples, ~512 px JPEG; load {load}", "shards", shards, "");

            // Baselines in the same run, 1 thread, no pack machinery: the image work pack cannot avoid. Re-encoding off,
            // every image is decoded once (validation); on, it is also shrunk to the short side and encoded as JPEG.
            var images = input.SelectMany(s => WebDatasetReader.Read(s)).Select(s => s.Members["jpg"]).ToList();
            var defaults = new PackOptions();
            Func<int> decodeLoop = () =>
            {
                foreach (var img in images)
                    if (ImageDecoder.TryDecodeRgbx(img, defaults.ImageLimits, out DecodedImage? d, out _)) d.Dispose();
                return images.Count;
            };
            Func<int> reencodeLoop = () =>
            {
                foreach (var img in images)
                    if (ImageDecoder.TryDecodeRgbx(img, defaults.ImageLimits, out DecodedImage? d, out _))
                        using (d) ImageEncoder.EncodeJpeg(ImageEncoder.ResizeShortSide(d, defaults.ImageSize), defaults.JpegQuality);
                return images.Count;
            };
            var plain = new Dictionary<bool, double>();
            foreach (var (reencode, loop, name) in new[] { (false, decodeLoop, "plain loop: decode"), (true, reencodeLoop, "plain loop: decode + shrink + JPEG encode") })
            {
                var (count, _, cpu) = BenchTiming.Measure(loop);
                plain[reencode] = count / cpu;
                yield return new BenchRow($"{name}, 1 thread", "samples per CPU-second", count / cpu, "samples/s");
            }

            double? single = null;
            foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
            {
                foreach (bool reencode in new[] { false, true })
                {
                    var opts = new PackOptions { Threads = threads, Reencode = reencode };
                    var (report, wall, cpu) = BenchTiming.Measure(() => new PackPipeline(tokenizer, opts).Run(input, Path.Combine(dir, $"out-{threads}-{reencode}")));
                    string w = $"{threads} thr, re-enc {(reencode ? "on" : "off")}, fill {report.FillRatio:P0}";
                    double rate = n / wall;
                    if (!reencode && threads == 1) single = rate;
                    yield return new BenchRow(w, "samples/s", rate, "samples/s", threads > 1 && !reencode ? "1 thread" : null, threads > 1 && !reencode ? rate / single : null);
                    yield return new BenchRow(w, "samples/s per core", rate / threads, "samples/s");
                    yield return new BenchRow(w, "samples per CPU-second", n / cpu, "samples/s", reencode ? "plain decode + shrink + encode" : "plain decode", n / cpu / plain[reencode]);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static string FindFixtureTokenizer()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "tests", "Fixtures", "reference", "tokenizer.json");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("set OQVL_TOKENIZER to a tokenizer.json");
    }
}
