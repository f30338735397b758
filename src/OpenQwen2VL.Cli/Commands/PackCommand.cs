using System.CommandLine;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Shards;
using OpenQwen2VL.Data.Tokenization;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary><c>oqvl pack</c>: img2dataset shards → packed multimodal shards (docs/packed-format.md).</summary>
public sealed class PackCommand : ICliCommand
{
    public Command Build()
    {
        var input = new Option<string>("--input") { Description = "img2dataset shards, brace-expanded: data/{00000..00127}.tar", Required = true };
        var tokenizerPath = new Option<string>("--tokenizer") { Description = "HF tokenizer.json", Required = true };
        var output = new Option<string>("--output") { Description = "output folder for packed-*.tar, header.json, stats.json", Required = true };
        var capacity = new Option<int>("--capacity") { Description = "tokens per packed sequence", DefaultValueFactory = _ => 4096 };
        var visual = new Option<int>("--visual-tokens") { Description = "visual tokens per image", DefaultValueFactory = _ => 144 };
        var perShard = new Option<bool>("--per-shard") { Description = "pack each input shard on its own (the reference's behaviour)" };
        var over = new Option<string>("--over-capacity") { Description = "drop|truncate samples longer than the capacity", DefaultValueFactory = _ => "drop" };
        var seed = new Option<int>("--seed") { Description = "seed of the pack order", DefaultValueFactory = _ => 0 };
        var maxPixels = new Option<long>("--max-pixels") { Description = "decompression-bomb cap (width x height)", DefaultValueFactory = _ => ImageLimits.Default.MaxPixels };
        var imageSize = new Option<int>("--image-size") { Description = "model input size: larger images are re-encoded at this short side when smaller", DefaultValueFactory = _ => 384 };
        var noReencode = new Option<bool>("--no-reencode") { Description = "always keep the original image bytes" };
        var packsPerShard = new Option<int>("--packs-per-shard") { Description = "packed sequences per output shard", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads") { Description = "worker threads", DefaultValueFactory = _ => Environment.ProcessorCount };

        var cmd = new Command("pack", "Tokenise image-caption shards and pack them into dense multimodal sequences (First-Fit-Decreasing)");
        foreach (var o in new Option[] { input, tokenizerPath, output, capacity, visual, perShard, over, seed, maxPixels, imageSize, noReencode, packsPerShard, threads })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var policy = r.GetValue(over) switch
            {
                "drop" => OverCapacityPolicy.Drop,
                "truncate" => OverCapacityPolicy.Truncate,
                var v => throw new CliUserException($"--over-capacity must be drop or truncate, not '{v}'"),
            };
            IReadOnlyList<string> shards;
            try { shards = ShardSpec.Expand(r.GetValue(input)!); }
            catch (FormatException e) { throw new CliUserException(e.Message); }
            var tokPath = r.GetValue(tokenizerPath)!;
            if (!File.Exists(tokPath)) throw new CliUserException($"tokenizer not found: {tokPath}");
            if (!shards.Any(File.Exists)) throw new CliUserException($"no input shard exists ({shards.Count} in the spec, first: {shards[0]})");
            var options = new PackOptions
            {
                Capacity = r.GetValue(capacity),
                VisualTokens = r.GetValue(visual),
                PerShard = r.GetValue(perShard),
                OverCapacity = policy,
                Seed = r.GetValue(seed),
                ImageLimits = ImageLimits.Default with { MaxPixels = r.GetValue(maxPixels) },
                ImageSize = r.GetValue(imageSize),
                Reencode = !r.GetValue(noReencode),
                PacksPerShard = r.GetValue(packsPerShard),
                Threads = Math.Max(1, r.GetValue(threads)),
            };
            if (options.Capacity < options.VisualTokens + 3) throw new CliUserException($"--capacity {options.Capacity} cannot hold one image of {options.VisualTokens} visual tokens");
            if (options.PacksPerShard < 1) throw new CliUserException("--packs-per-shard must be >= 1");
            var tokenizer = BpeTokenizer.Load(tokPath);
            var outDir = r.GetValue(output)!;

            PackReport report = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var scan = ctx.AddTask("scan shards", maxValue: Math.Max(1, shards.Count));
                    var write = ctx.AddTask("write packs", autoStart: false);
                    var started = DateTime.UtcNow;
                    var progress = new SynchronousProgress<PackProgress>(p =>
                    {
                        double secs = Math.Max(1e-3, (DateTime.UtcNow - started).TotalSeconds);
                        if (p.Phase == "scan")
                        {
                            scan.Value = p.Done;
                            scan.Description = $"scan shards ({p.Samples:N0} samples, {p.Samples / secs:N0} items/s)";
                        }
                        else
                        {
                            if (!write.IsStarted) { scan.Value = scan.MaxValue; scan.StopTask(); write.StartTask(); started = DateTime.UtcNow; }
                            write.MaxValue = Math.Max(1, p.Total);
                            write.Value = p.Done;
                            write.Description = $"write packs ({p.Done / secs:N0} packs/s)";
                        }
                    });
                    report = new PackPipeline(tokenizer, options).Run(shards, outDir, progress);
                    scan.Value = scan.MaxValue;
                    write.Value = write.MaxValue;
                });

            var table = new Table().Title("pack summary").AddColumns("", "value");
            table.AddRow("input shards", $"{shards.Count:N0} ({report.Stats.DamagedShards.Count} missing or damaged)");
            table.AddRow("input samples", $"{report.Stats.Input:N0}");
            table.AddRow("kept", $"{report.Stats.Kept:N0}");
            foreach (var (reason, n) in report.Stats.Skipped) table.AddRow($"skipped: {Markup.Escape(reason)}", $"{n:N0}");
            table.AddRow("truncated (kept)", $"{report.TruncatedSamples:N0}");
            table.AddRow("packs", $"{report.Packs:N0} in {report.OutputShards.Count} shards");
            table.AddRow("fill ratio", $"{report.FillRatio:P2} (global {report.FillRatioGlobal:P2}, per-shard {report.FillRatioPerShard:P2})");
            table.AddRow("re-encoded images", $"{report.ReencodedImages:N0} ({report.ReencodeBytesSaved / 1048576.0:N1} MiB saved)");
            table.AddRow("time", $"{report.Seconds:N1} s ({report.Stats.Input / Math.Max(1e-3, report.Seconds):N0} samples/s)");
            table.AddRow("balanced (input = kept + skipped)", report.Stats.IsBalanced ? "yes" : "[red]NO[/]");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"wrote [bold]{Markup.Escape(Path.Combine(outDir, "stats.json"))}[/]");
            return report.Stats.IsBalanced ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
