using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Curation.Expressions;
using OpenQwen2VL.Curation.Resharding;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>
/// <c>oqvl filter</c>: joins score files and uid lists by uid, keeps the samples a <c>--keep</c> expression accepts and
/// reshards them (original bytes) with stats and a manifest.
/// </summary>
public sealed class FilterCommand : ICliCommand
{
    public Command Build()
    {
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth, curate or filter, a folder of .tar shards, or a spec data/{00000..00127}.tar",
            Required = true, HelpName = "DIR|SPEC",
        };
        var scores = new Option<string[]>("--scores")
        {
            Description = "score files (.parquet, .csv, .jsonl with a uid column) or folders of them; the reference scorer's "
                + "<metric>_score text columns are mlm_itm, mlm_odf, mlm_ctq, mlm_su; other columns keep their names",
            HelpName = "PATH", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [],
        };
        var uids = new Option<string[]>("--uids")
        {
            Description = "uid lists for in(NAME): DataComp .npy subsets of 128-bit uids, or text with one uid per line",
            HelpName = "NAME=PATH", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => [],
        };
        var keep = new Option<string>("--keep")
        {
            Description = "which samples to keep, e.g. 'mlm_su >= 85 || in(dfn)' or 'siglip > 0.1 && mlm_itm >= 66' "
                + "(> >= < <= == != && || ! parentheses; a missing score fails every comparison)",
            Required = true, HelpName = "EXPR",
        };
        var output = CommonOptions.Out("output folder: shards/*.tar, stats.json, manifest.json");
        var shardSize = CommonOptions.Positive("--shard-size", "samples per output shard", new ScoreFilterOptions { InputSpec = "", Keep = "", OutputDir = "" }.ShardSize);
        var maxMember = CommonOptions.MaxMemberBytes();

        var cmd = new Command("filter", "Keep the samples whose scores and uid lists satisfy an expression, and reshard them (original bytes)");
        foreach (var o in new Option[] { input, scores, uids, keep, output, shardSize, maxMember }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var options = new ScoreFilterOptions
            {
                InputSpec = r.GetValue(input)!, ScorePaths = r.GetValue(scores) ?? [], UidLists = ParseUidLists(r.GetValue(uids) ?? []),
                Keep = r.GetValue(keep)!, OutputDir = r.GetValue(output)!, ShardSize = r.GetValue(shardSize), MaxMemberBytes = r.GetValue(maxMember),
            };
            ScoreFilterReport report = null!;
            try
            {
                LiveProgress.Run(AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn()),
                    ctx =>
                    {
                        var load = ctx.AddTask("read scores and uid lists");
                        var shards = ctx.AddTask("filter shards", autoStart: false);
                        var started = DateTime.UtcNow;
                        var progress = new SynchronousProgress<ScoreFilterProgress>(p =>
                        {
                            if (p.Phase == "scores")
                            {
                                load.MaxValue = Math.Max(1, p.Total);
                                load.Value = p.Done;
                                return;
                            }
                            if (!shards.IsStarted) { load.Value = load.MaxValue; load.StopTask(); shards.StartTask(); started = DateTime.UtcNow; }
                            double secs = Math.Max(1e-3, (DateTime.UtcNow - started).TotalSeconds);
                            shards.MaxValue = Math.Max(1, p.Total);
                            shards.Value = p.Done;
                            shards.Description = $"filter shards ({p.Samples:N0} samples, {p.Kept:N0} kept, {p.Samples / secs:N0} samples/s)";
                        });
                        report = ScoreFilterPipeline.Run(options, progress);
                        load.Value = load.MaxValue;
                        shards.Value = shards.MaxValue;
                    });
            }
            catch (KeepExpressionException e) { throw new CliUserException(e.Message); }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            Print(report, options.OutputDir);
            return report.Stats.IsBalanced ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>NAME=PATH pairs; a bad one or a repeated name is a one-line error.</summary>
    internal static Dictionary<string, string> ParseUidLists(IEnumerable<string> specs)
    {
        var lists = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            int eq = spec.IndexOf('=');
            string name = eq > 0 ? spec[..eq] : "";
            if (eq <= 0 || eq == spec.Length - 1 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || char.IsAsciiDigit(name[0]))
                throw new CliUserException($"--uids {spec}: expected NAME=PATH, NAME a name as in(NAME) uses (letters, digits, _)");
            if (!lists.TryAdd(name, spec[(eq + 1)..])) throw new CliUserException($"--uids: the name {name} is given twice");
        }
        return lists;
    }

    private static void Print(ScoreFilterReport r, string outDir)
    {
        var table = new Table().Title("filter summary").AddColumns("", "value");
        table.AddRow("keep", Markup.Escape(r.Expression.Text));
        table.AddRow("scored uids", $"{r.ScoredUids:N0} from {r.ScoreLoad.Files.Count} score file(s)");
        foreach (var (name, n) in r.UidListSizes) table.AddRow($"uid list {Markup.Escape(name)}", $"{n:N0} uids");
        table.AddRow("input samples", $"{r.Stats.Input:N0}");
        table.AddRow("kept", $"{r.Stats.Kept:N0}");
        table.AddRow("dropped", $"{r.Stats.SkippedTotal:N0}");
        foreach (var (reason, n) in r.Stats.Skipped) table.AddRow($"  {Markup.Escape(reason)}", $"{n:N0}");
        if (r.DroppedByClause.Count > 1)
            foreach (var (clause, n) in r.DroppedByClause)
                table.AddRow($"  failed: {Markup.Escape(clause)}", $"{n:N0} ({r.DroppedByFirstClause[clause]:N0} first)");
        foreach (var (column, n) in r.MissingScores) table.AddRow($"missing score: {Markup.Escape(column)}", $"{n:N0}");
        table.AddRow("output", $"{r.OutputShards.Count:N0} shards of up to {(r.SamplesPerShard.Count > 0 ? r.SamplesPerShard.Max() : 0):N0} samples");
        table.AddRow("time", $"{r.Seconds:N1} s ({r.Stats.Input / Math.Max(1e-3, r.Seconds):N0} samples/s)");
        table.AddRow("balanced (input = kept + dropped)", r.Stats.IsBalanced ? "yes" : "[red]NO[/]");
        AnsiConsole.Write(table);
        Console.WriteLine($"wrote {outDir} (manifest.json, stats.json): pack it with oqvl pack --input {outDir}");
    }
}
