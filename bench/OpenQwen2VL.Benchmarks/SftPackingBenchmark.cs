using System.Globalization;
using OpenQwen2VL.Data.Loading;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Demo;
using OpenQwen2VL.Model.Data;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Vlm;
using OpenQwen2VL.Synthetic;
using OpenQwen2VL.Training.Model;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// SFT forward + backward over one epoch of the demo's synthetic LLaVA conversations on the demo's tiny VLM (full 8x8
/// grid, 512-position context), unpacked as the demo batches them (12 conversations per micro-batch, grouped by image
/// count) against packed (sft_packing: packs of up to 512 positions, 3 per micro-batch, each conversation its own
/// attention segment), the packs once under the dense block-diagonal mask and once as the model chooses (per sequence
/// at the demo's mean sequence of ~170 positions, <see cref="PackedCausalAttention"/>), and 5 packs per micro-batch
/// (about the unpacked step's positions). Tokens/s counts real (non-padding) positions, the same in all; the padding
/// fraction is of all positions the model computed. The mean loss over the epoch is reported for each: packing must not
/// change it. Batches are read and decoded before the clock starts, so only the model's step is timed.
/// Two runs at load 1.7 and 2.3 (2 cores), per CPU-second against unpacked: dense mask 0.67x/0.66x, per sequence
/// 0.83x/0.86x (1.25x/1.29x the mask), 5 packs 0.89x/1.03x: packing saves little padding on these image-grouped
/// conversations (9.6% to 6.6%) and each step has a fixed cost, so it pays at most with as many positions per step.
/// </summary>
public sealed class SftPackingBenchmark : IBenchmark
{
    public string Name => "sft-packing";
    public string Description => "SFT tokens/s and padding fraction, packed (sft_packing) vs unpacked, on the demo's SFT data";

    const int Context = 512, VisualTokens = 64, UnpackedMicro = 12, PackedMicro = 3, WidePackedMicro = 5, GroupByImageCount = 20;

    public IEnumerable<BenchRow> Run(bool quick)
    {
        string dir = Path.Combine(Path.GetTempPath(), "oqvl-bench-sftpack-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var demo = new DemoOptions { OutputDir = dir, Quick = quick };
            // Only the SFT split matters here: the fewest pre-training pairs and evaluation images the generator takes.
            var layout = SyntheticDatasetWriter.Write(SyntheticDatasetGenerator.Generate(demo.Synth with { PretrainPairs = 1, EvalImages = 1 }), Path.Combine(dir, "data"));
            string tokenizerPath = DemoTokenizer.WriteTo(dir);
            using var loaded = VlmLoader.Load(ModelPresets.Source(ModelPreset.Tiny, tokenizerPath), new VlmLoadSettings { Seed = 7, VisualTokens = VisualTokens });
            var model = new VlmTrainableModel(loaded.Model);
            model.SetTrainable(true, true, false);
            int padId = loaded.Tokenizer.TokenToId("<|endoftext|>") ?? 0;
            IExampleSource Conversations() => new SftExampleSource(new LlavaSftReader(new ChatMlPromptBuilder(loaded.Tokenizer), layout.SftImageRoot, Context, VisualTokens));
            List<DataBatch> Epoch(IExampleSource source, int micro, int group) =>
                new BatchLoader([layout.SftJson], source, loaded.Preprocessor,
                    new LoaderOptions { BatchSize = micro, Seed = 7, Epochs = 1, PadId = padId, GroupByImageCount = group }).Batches().ToList();

            // Real positions of the epoch: each conversation's ids with its image markers expanded (the same packed or not).
            long real = Conversations().ReadShard(layout.SftJson, new SkipStats()).Sum(e => e.Ids.Length + (long)e.Images.Length * (VisualTokens - 1));
            var unpacked = Measure(model, Epoch(Conversations(), UnpackedMicro, GroupByImageCount), real);
            var packs = Epoch(new PackingExampleSource(Conversations(), Context, VisualTokens), PackedMicro, 0);
            var decoder = loaded.Model.Llm.Decoder;
            decoder.PackedAttention = PackedAttentionChoice.DenseMask;
            var dense = Measure(model, packs, real);
            decoder.PackedAttention = PackedAttentionChoice.Measured;
            var packed = Measure(model, packs, real);
            double meanRun = packs.Average(MeanSequenceLength);
            // As many positions per step as the unpacked micro-batch (5 x 512 vs 12 x ~200): each step also has a fixed cost.
            var wide = Measure(model, Epoch(new PackingExampleSource(Conversations(), Context, VisualTokens), WidePackedMicro, 0), real);

            string u = $"unpacked, {UnpackedMicro} conversations per micro-batch ({unpacked.Batches} batches)";
            string p = $"packed, {PackedMicro} packs of <= {Context} per micro-batch ({packed.Batches} batches, mean sequence {meanRun:F0}), attention per sequence";
            string d = $"packed as above, attention under the dense block-diagonal mask";
            string w = $"packed, {WidePackedMicro} packs of <= {Context} per micro-batch ({wide.Batches} batches), attention per sequence";
            string epoch = $"demo SFT epoch ({(quick ? "quick" : "full")} data): {real:N0} real positions";
            yield return new BenchRow($"{u}; {epoch}", "real tokens/s (wall)", real / unpacked.Wall, "tok/s");
            yield return new BenchRow($"{d}; {epoch}", "real tokens/s (wall)", real / dense.Wall, "tok/s", "unpacked", unpacked.Wall / dense.Wall);
            yield return new BenchRow($"{p}; {epoch}", "real tokens/s (wall)", real / packed.Wall, "tok/s", "unpacked", unpacked.Wall / packed.Wall);
            yield return new BenchRow(u, "real tokens per CPU-s", real / unpacked.Cpu, "tok/s");
            yield return new BenchRow(d, "real tokens per CPU-s", real / dense.Cpu, "tok/s", "unpacked", unpacked.Cpu / dense.Cpu);
            yield return new BenchRow(p, "real tokens per CPU-s", real / packed.Cpu, "tok/s", "unpacked", unpacked.Cpu / packed.Cpu);
            yield return new BenchRow(p, "real tokens per CPU-s", real / packed.Cpu, "tok/s", "dense mask", dense.Cpu / packed.Cpu);
            yield return new BenchRow(w, "real tokens/s (wall)", real / wide.Wall, "tok/s", "unpacked", unpacked.Wall / wide.Wall);
            yield return new BenchRow(w, "real tokens per CPU-s", real / wide.Cpu, "tok/s", "unpacked", unpacked.Cpu / wide.Cpu);
            yield return new BenchRow(u, "padding fraction", 100 * (1 - (double)real / unpacked.Positions), "%");
            yield return new BenchRow(p, "padding fraction", 100 * (1 - (double)real / packed.Positions), "%", "unpacked", (1 - (double)real / packed.Positions) / (1 - (double)real / unpacked.Positions));
            yield return new BenchRow(u, "mean loss over the epoch", unpacked.Loss, "nats");
            yield return new BenchRow(d, "mean loss over the epoch", dense.Loss, "nats", "unpacked", dense.Loss / unpacked.Loss);
            yield return new BenchRow(p, "mean loss over the epoch", packed.Loss, "nats", "unpacked", packed.Loss / unpacked.Loss);
            yield return new BenchRow(w, "mean loss over the epoch", wide.Loss, "nats", "unpacked", wide.Loss / unpacked.Loss);
            if (File.Exists("/proc/loadavg"))
                yield return new BenchRow($"machine load during the run ({Environment.ProcessorCount} cores)", "1-min load average",
                    double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture), "");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    readonly record struct EpochResult(int Batches, long Positions, double Wall, double Cpu, double Loss);

    /// <summary>Forward + backward of every batch (one warm-up batch first, untimed); positions = what the model computed.</summary>
    static EpochResult Measure(VlmTrainableModel model, List<DataBatch> batches, long real)
    {
        long positions = batches.Sum(b => b.BatchSize * SplicedWidth(b));
        Step(model, batches[0]);
        var ((lossSum, targets), wall, cpu) = BenchTiming.Measure(() =>
        {
            double sum = 0;
            long count = 0;
            foreach (var b in batches)
            {
                var (s, n) = Step(model, b);
                sum += s;
                count += n;
            }
            return (sum, count);
        });
        return new EpochResult(batches.Count, positions, wall, cpu, lossSum / targets);
    }

    /// <summary>The spliced width of a batch: its widest row once each image marker is its visual tokens.</summary>
    static double MeanSequenceLength(DataBatch b)
    {
        // Runs of one segment id in the spliced rows, as the model's packed attention counts them (padding runs too).
        long width = SplicedWidth(b), runs = 0;
        for (int row = 0; row < b.BatchSize; row++)
        {
            long last = long.MinValue, spliced = 0;
            for (int t = 0; t < b.SequenceLength; t++)
            {
                long id = b.SegmentIds![row * b.SequenceLength + t];
                if (id != last) runs++;
                last = id;
                spliced += b.InputIds[row * b.SequenceLength + t] == VlmBatch.ImageMarker ? VisualTokens : 1;
            }
            if (spliced < width && last != -1) runs++;   // the splice pads a row to the widest one
        }
        return (double)b.BatchSize * width / runs;
    }

    static long SplicedWidth(DataBatch b)
    {
        long width = 0;
        for (int row = 0; row < b.BatchSize; row++)
        {
            long markers = 0;
            for (int t = 0; t < b.SequenceLength; t++)
                if (b.InputIds[row * b.SequenceLength + t] == VlmBatch.ImageMarker) markers++;
            width = Math.Max(width, b.SequenceLength + markers * (VisualTokens - 1));
        }
        return width;
    }

    static (double LossSum, long Targets) Step(VlmTrainableModel model, DataBatch batch)
    {
        using var scope = NewDisposeScope();
        using var vlmBatch = batch.ToVlmBatch();
        var (sum, count) = model.Forward(vlmBatch);
        sum.backward();
        foreach (var p in model.Parameters()) p.Parameter.grad?.zero_();
        // One host read per step (the epoch's loss); the timing includes it in both modes alike.
        return (sum.item<float>(), count.item<long>());
    }
}
