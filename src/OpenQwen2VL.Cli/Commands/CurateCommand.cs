using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Curation.Filtering;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl curate`: dual-encoder (CLIP-score style) filtering of img2dataset shards.</summary>
public sealed class CurateCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new DualEncoderTrainingOptions();
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth, a folder of .tar shards, or a spec data/{00000..00003}.tar",
            Required = true, HelpName = "DIR|SPEC",
        };
        var output = CommonOptions.Out("output folder (kept shards, score parquets, histogram, stats, manifest.json)");
        // Scores are cosine similarities, in [-1, 1].
        var threshold = new Option<double?>("--threshold") { Description = "Keep pairs with cosine score >= T (default: Otsu's cut)" }.InRange(-1.0, 1.0);
        var keepFraction = new Option<double?>("--keep-fraction") { Description = "Keep the top fraction F of pairs instead" }.InRange(0.0, 1.0, minExclusive: true);
        var metric = new Option<string>("--metric") { Description = "Score column prefix ({metric}_score)", DefaultValueFactory = _ => "tiny_siglip" };
        var tokenizer = CommonOptions.Tokenizer("HF tokenizer.json for caption tokens (words otherwise)");
        var epochs = CommonOptions.Positive("--epochs", "filter training epochs", defaults.Epochs);
        var batch = CommonOptions.Positive("--batch-size", "filter training batch size", defaults.BatchSize);
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var maxMember = CommonOptions.MaxMemberBytes();
        var decodeBudget = CommonOptions.DecodeBudgetMib();

        var cmd = new Command("curate", "Train a tiny SigLIP-style dual encoder on the pairs, score each pair, keep those above a threshold");
        foreach (var o in new Option[] { input, output, threshold, keepFraction, metric, tokenizer, epochs, batch, seed, device, maxMember, decodeBudget }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var options = new CurationOptions
            {
                InputSpec = r.GetValue(input)!, OutputDir = r.GetValue(output)!, Threshold = r.GetValue(threshold),
                KeepFraction = r.GetValue(keepFraction), Metric = r.GetValue(metric)!, TokenizerPath = r.GetValue(tokenizer),
                Device = r.GetValue(device)!, Seed = r.GetValue(seed), MaxMemberBytes = r.GetValue(maxMember),
                ImageLimits = ImageLimits.Default.WithDecodeBudget(r.GetValue(decodeBudget)),
                Training = new DualEncoderTrainingOptions { Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch) },
            };
            if (options.TokenizerPath is { } tok && !File.Exists(tok)) throw new CliUserException($"--tokenizer: file not found: {tok}");
            CurationResult result;
            try { result = CurationPipeline.Run(options, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]")); }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            Print(result);
            return 0;
        });
        return cmd;
    }

    internal static void Print(CurationResult r)
    {
        var table = new Table().AddColumn("").AddColumn("value");
        table.AddRow("input samples", r.Input.ToString());
        table.AddRow("kept", r.Kept.ToString());
        table.AddRow("filtered out", r.FilteredOut.ToString());
        foreach (var (reason, n) in r.Skipped) table.AddRow($"skipped: {reason}", n.ToString());
        table.AddRow("threshold", $"{r.Threshold.Value:F4} ({r.Threshold.Method})");
        if (r.NoiseRemoval is { } m)
        {
            table.AddRow("noise removal precision", $"{100 * m.Precision:F1}%");
            table.AddRow("noise removal recall", $"{100 * m.Recall:F1}%");
        }
        table.AddRow("train / total seconds", $"{r.TrainSeconds:F1} / {r.TotalSeconds:F1}");
        AnsiConsole.Write(table);
        Console.WriteLine($"kept shards: {r.KeptShardSpec}\nscores: {r.ScoresDir}\nhistogram: {r.HistogramPng}\nstats: {r.StatsJson}");
        Console.WriteLine($"pack the kept pairs with oqvl pack --input {Path.GetDirectoryName(r.StatsJson)}");
    }
}
