using System.CommandLine;
using OpenQwen2VL.Curation.Filtering;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl curate`: dual-encoder (CLIP-score style) filtering of img2dataset shards.</summary>
public sealed class CurateCommand : ICliCommand
{
    public Command Build()
    {
        var defaults = new DualEncoderTrainingOptions();
        var input = new Option<string>("--input") { Description = "Input shards, e.g. data/{00000..00003}.tar", Required = true };
        var output = new Option<string>("--output") { Description = "Output folder (kept shards, score parquets, histogram, stats)", Required = true };
        var threshold = new Option<double?>("--threshold") { Description = "Keep pairs with cosine score >= T (default: Otsu's cut)" };
        var keepFraction = new Option<double?>("--keep-fraction") { Description = "Keep the top fraction F of pairs instead" };
        var metric = new Option<string>("--metric") { Description = "Score column prefix ({metric}_score)", DefaultValueFactory = _ => "tiny_siglip" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "HF tokenizer.json for caption tokens (words otherwise)" };
        var epochs = new Option<int>("--epochs") { Description = "Filter training epochs", DefaultValueFactory = _ => defaults.Epochs };
        var batch = new Option<int>("--batch-size") { Description = "Filter training batch size", DefaultValueFactory = _ => defaults.BatchSize };
        var seed = new Option<int>("--seed") { Description = "Seed", DefaultValueFactory = _ => 7 };
        var device = new Option<string>("--device") { Description = "cpu | cuda", DefaultValueFactory = _ => "cpu" };

        var cmd = new Command("curate", "Train a tiny SigLIP-style dual encoder on the pairs, score each pair, keep those above a threshold");
        foreach (var o in new Option[] { input, output, threshold, keepFraction, metric, tokenizer, epochs, batch, seed, device }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var options = new CurationOptions
            {
                InputSpec = r.GetValue(input)!, OutputDir = r.GetValue(output)!, Threshold = r.GetValue(threshold),
                KeepFraction = r.GetValue(keepFraction), Metric = r.GetValue(metric)!, TokenizerPath = r.GetValue(tokenizer),
                Device = r.GetValue(device)!, Seed = r.GetValue(seed),
                Training = new DualEncoderTrainingOptions { Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch) },
            };
            if (options.TokenizerPath is { } tok && !File.Exists(tok)) throw new CliUserException($"tokenizer not found: {tok}");
            if (options.Device is not ("cpu" or "cuda") && !options.Device.StartsWith("cuda:", StringComparison.Ordinal))
                throw new CliUserException($"unknown --device '{options.Device}' (cpu | cuda)");
            CurationResult result;
            try { result = CurationPipeline.Run(options, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]")); }
            catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException) { throw new CliUserException(e.Message); }
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
    }
}
