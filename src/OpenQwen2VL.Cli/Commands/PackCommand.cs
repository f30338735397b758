using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary><c>oqvl pack</c>: image-caption shards → packed multimodal shards (docs/packed-format.md) with a manifest.</summary>
public sealed class PackCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new PackOptions();
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth or curate, a folder of .tar shards, or a spec data/{00000..00127}.tar",
            Required = true, HelpName = "DIR|SPEC",
        };
        var tokenizerPath = CommonOptions.Tokenizer("HF tokenizer.json (copied into the output; Open-Qwen2VL's <s> and <|endofchunk|> are added when missing)");
        tokenizerPath.Required = true;
        var output = CommonOptions.Out("output folder: packed-*.tar, header.json, stats.json, tokenizer.json, manifest.json");
        var capacity = CommonOptions.Positive("--capacity", "tokens per packed sequence", defaults.Capacity);
        var visual = CommonOptions.VisualTokens($"visual tokens per image the model will use (default {defaults.VisualTokens}: 12x12 pooling)");
        var perShard = new Option<bool>("--per-shard") { Description = "pack each input shard on its own (the reference's behaviour)" };
        var over = CommonOptions.Enum<OverCapacityPolicy>("--over-capacity", "what to do with a sample longer than the capacity", OverCapacityPolicy.Drop);
        var seed = CommonOptions.Seed("seed of the pack order");
        var maxPixels = new Option<long>("--max-pixels") { Description = "decompression-bomb cap (width x height)", DefaultValueFactory = _ => ImageLimits.Default.MaxPixels }.AtLeast(1L);
        var imageSize = CommonOptions.Positive("--image-size", "the model's input size: images with a larger short side are re-encoded down to it when that is smaller", defaults.ImageSize);
        var noReencode = new Option<bool>("--no-reencode") { Description = "always keep the original image bytes" };
        var packsPerShard = CommonOptions.Positive("--packs-per-shard", "packed sequences per output shard", defaults.PacksPerShard);
        var threads = CommonOptions.Threads();
        var maxMember = CommonOptions.MaxMemberBytes();
        var decodeBudget = CommonOptions.DecodeBudgetMib();

        var cmd = new Command("pack", "Tokenise image-caption shards and pack them into dense multimodal sequences (First-Fit-Decreasing)");
        foreach (var o in new Option[] { input, tokenizerPath, output, capacity, visual, perShard, over, seed, maxPixels, imageSize, noReencode, packsPerShard, threads, maxMember, decodeBudget })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var shards = ShardInputs.Resolve(r.GetValue(input)!, "pack --input");
            var tokPath = r.GetValue(tokenizerPath)!;
            if (!File.Exists(tokPath)) throw new CliUserException($"--tokenizer: file not found: {tokPath}");
            var options = new PackOptions
            {
                Capacity = r.GetValue(capacity),
                VisualTokens = r.GetValue(visual) ?? defaults.VisualTokens,
                PerShard = r.GetValue(perShard),
                OverCapacity = r.GetValue(over),
                Seed = r.GetValue(seed),
                ImageLimits = (ImageLimits.Default with { MaxPixels = r.GetValue(maxPixels) }).WithDecodeBudget(r.GetValue(decodeBudget)),
                ImageSize = r.GetValue(imageSize),
                Reencode = !r.GetValue(noReencode),
                PacksPerShard = r.GetValue(packsPerShard),
                Threads = r.GetValue(threads),
                MaxMemberBytes = r.GetValue(maxMember),
                TokenizerPath = tokPath,
                Inputs = shards.Lineage,
            };
            if (options.Capacity < options.VisualTokens + 3) throw new CliUserException($"--capacity {options.Capacity} cannot hold one image of {options.VisualTokens} visual tokens");
            var tokenizer = MultimodalTokens.LoadTokenizer(tokPath);
            var outDir = r.GetValue(output)!;

            PackReport report = null!;
            LiveProgress.Run(AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn()),
                ctx =>
                {
                    var scan = ctx.AddTask("scan shards", maxValue: Math.Max(1, shards.Paths.Count));
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
                    report = new PackPipeline(tokenizer, options).Run(shards.Paths, outDir, progress);
                    scan.Value = scan.MaxValue;
                    write.Value = write.MaxValue;
                });

            var table = new Table().Title("pack summary").AddColumns("", "value");
            table.AddRow("input shards", $"{shards.Paths.Count:N0} ({report.Stats.DamagedShards.Count} missing or damaged)");
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
            Console.WriteLine($"wrote {outDir} (manifest.json, stats.json): train on it with oqvl train --data {outDir}");
            return report.Stats.IsBalanced ? 0 : 1;
        });
        return cmd;
    }
}
