using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Demo;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl demo`: the whole recipe end to end on synthetic data: synth → curate → pack → pretrain → SFT → evaluate → report.</summary>
public sealed class DemoCommand : ICliCommand
{
    public Command Build()
    {
        var outDir = CommonOptions.Out("report folder (report.md, report.json, every stage's folder)", defaultValue: "oqvl-demo");
        var quick = new Option<bool>("--quick") { Description = "small sizes (about a minute on 2 cores)" };
        var seed = CommonOptions.Seed("seed of every stage");
        var device = CommonOptions.Device();
        var tokenizer = CommonOptions.Tokenizer("HF tokenizer.json (default: the embedded small reference tokenizer)");
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "pre-training optimiser steps (default: by size)" }.AtLeast(1);
        var sftSteps = new Option<int?>("--sft-steps") { Description = "SFT optimiser steps (default: by size)" }.AtLeast(1);

        var cmd = new Command("demo", "Run the whole Open-Qwen2VL recipe on synthetic data and write report.md / report.json");
        foreach (var o in new Option[] { outDir, quick, seed, device, tokenizer, pretrainSteps, sftSteps }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            string output = r.GetValue(outDir)!;
            if (File.Exists(output)) throw new CliUserException($"--out '{output}' is a file, not a folder");
            string? parent = Path.GetDirectoryName(Path.GetFullPath(output));
            if (parent is not null && !Directory.Exists(parent)) throw new CliUserException($"parent folder of --out not found: {parent}");
            string dev = r.GetValue(device)!;
            string? tok = r.GetValue(tokenizer);
            if (tok is not null && !File.Exists(tok)) throw new CliUserException($"tokenizer not found: {tok}");
            // A bad tokenizer.json is one line now, not after the synthetic data and the filter are built.
            if (tok is not null) OpenQwen2VL.Data.Prompts.MultimodalTokens.LoadTokenizer(tok);
            if (tok is null) { Directory.CreateDirectory(output); tok = OpenQwen2VL.Demo.DemoTokenizer.WriteTo(output); }

            var options = new DemoOptions { OutputDir = output, Quick = r.GetValue(quick), Seed = r.GetValue(seed), Device = dev, TokenizerPath = tok,
                PretrainStepsOverride = r.GetValue(pretrainSteps), SftStepsOverride = r.GetValue(sftSteps) };
            // Plain lines: Spectre wraps redirected output at 80 columns, which split log lines in two.
            var report = new DemoPipeline().Run(options, Console.WriteLine);
            var table = new Table().AddColumn("result").AddColumn("value");
            foreach (var (k, v) in report.Vqa) table.AddRow($"VQA {k}", v is null ? "not run" : $"{100 * v.Accuracy:F1}%");
            table.AddRow("majority baseline", $"{100 * report.MajorityBaseline:F1}%");
            if (report.Curation.NoiseRemoval is { } m) table.AddRow("filter precision / recall", $"{100 * m.Precision:F1}% / {100 * m.Recall:F1}%");
            table.AddRow("total seconds", $"{report.StageSeconds.Values.Sum():F1}");
            AnsiConsole.Write(table);
            foreach (var n in report.NotRun) AnsiConsole.MarkupLineInterpolated($"[yellow]not run: {n.Stage}: {n.Reason}[/]");
            Console.WriteLine($"report: {Path.Combine(output, "report.md")}");
            return 0;
        });
        return cmd;
    }
}
