using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Packing;
using OpenQwen2VL.Data.Prompts;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary><c>oqvl pack</c>: image-caption shards or interleaved documents → packed multimodal shards (docs/packed-format.md) with a manifest.</summary>
public sealed class PackCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new PackOptions();
        var format = CommonOptions.Enum<PackFormat>("--format",
            "caption: img2dataset image-caption shards. interleaved: OBELICS/MMC4 documents ({\"texts\": [...] with null at image slots, " +
            "or MMC4's text_list, \"image_info\": [{\"image_base64\": ...} or {\"image_name\": ...}, optional matched_text_index]}), one per JSONL line, " +
            "or one per WebDataset sample as KEY.json whose image_name names another member of the same sample by what follows the key " +
            "(\"0.jpg\" for KEY.0.jpg; the whole file name works too). An image that cannot be read is dropped and counted (stats.json dropped_images); " +
            "a document left without text or without images is skipped; a document longer than --capacity is cut at text-chunk boundaries into several samples",
            PackFormat.Caption);
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth or curate, a folder of .tar shards, or a spec data/{00000..00127}.tar; " +
                "with --format interleaved: JSONL files of documents, WebDataset .tar shards of documents, or a folder of either",
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

        var cmd = new Command("pack", "Tokenise image-caption shards (or interleaved image-text documents) and pack them into dense multimodal sequences (First-Fit-Decreasing)");
        foreach (var o in new Option[] { format, input, tokenizerPath, output, capacity, visual, perShard, over, seed, maxPixels, imageSize, noReencode, packsPerShard, threads, maxMember, decodeBudget })
            cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var shards = r.GetValue(format) == PackFormat.Interleaved
                ? InterleavedInputs(r.GetValue(input)!)
                : ShardInputs.Resolve(r.GetValue(input)!, "pack --input");
            var tokPath = r.GetValue(tokenizerPath)!;
            if (!File.Exists(tokPath)) throw new CliUserException($"--tokenizer: file not found: {tokPath}");
            var options = new PackOptions
            {
                Format = r.GetValue(format),
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
            table.AddRow(options.Format == PackFormat.Interleaved ? "input documents" : "input samples", $"{report.Stats.Input:N0}");
            table.AddRow("kept", $"{report.Stats.Kept:N0}");
            if (options.Format == PackFormat.Interleaved)
            {
                table.AddRow("samples (documents split at chunk boundaries)", $"{report.Samples:N0} ({report.SplitDocuments:N0} split)");
                foreach (var (reason, n) in report.DroppedImages) table.AddRow($"images dropped: {Markup.Escape(reason)}", $"{n:N0}");
            }
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

    /// <summary>--input of interleaved documents: an oqvl synth folder's (synth --interleaved N), a folder's *.jsonl, *.json and *.tar files, or a file or shard spec.</summary>
    static ResolvedShards InterleavedInputs(string spec)
    {
        if (Directory.Exists(spec) && StageManifest.Exists(spec))
        {
            var m = StageManifest.Read(spec).RequireKind("pack --input", StageKinds.Synthetic);
            string docs = m.OptionalFile("interleaved") ?? throw new CliUserException($"pack --input: {spec} holds no interleaved documents: write them with oqvl synth --interleaved N");
            return new ResolvedShards([docs], m);
        }
        if (Directory.Exists(spec) && !StageManifest.Exists(spec))
        {
            var files = new[] { "*.jsonl", "*.json", "*.tar" }.SelectMany(p => Directory.GetFiles(spec, p)).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new CliUserException($"pack --input: {spec} holds no *.jsonl, *.json or *.tar files of interleaved documents");
            return new ResolvedShards(files, null);
        }
        return ShardInputs.Resolve(spec, "pack --input");
    }
}
