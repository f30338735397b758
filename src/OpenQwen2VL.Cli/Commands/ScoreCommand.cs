using System.CommandLine;
using OpenQwen2VL.Cli.Options;
using OpenQwen2VL.Curation.Scoring;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Manifests;
using Spectre.Console;

namespace OpenQwen2VL.Cli.Commands;

/// <summary>`oqvl score`: model-based scores of every image-caption pair, one parquet per input shard, resumable, split over ranks.</summary>
public sealed class ScoreCommand : ICliCommand
{
    public Command Build()
    {
        var input = new Option<string>("--input")
        {
            Description = "image-caption shards: a folder from oqvl synth or curate, a folder of .tar shards, or a spec data/{00000..00999}.tar",
            Required = true, HelpName = "DIR|SPEC",
        };
        var scorer = new Option<string>("--scorer") { Description = "siglip: a published HF SigLIP folder (both towers, spiece.model), cosine similarity and sigmoid probability", Required = true };
        scorer.AcceptOnlyFromAmong(SiglipPairScorer.ScorerName);
        var model = new Option<string>("--model") { Description = "the scorer's model folder", Required = true, HelpName = "DIR" };
        var output = CommonOptions.Out("output folder: NAME.parquet and NAME.stats.json per input shard, then stats.json, histograms, manifest.json");
        var batch = CommonOptions.Positive("--batch", "pairs per forward pass", 32);
        var rank = new Option<int?>("--rank") { Description = "this worker's rank (with --world; default: Slurm array or MPI environment, else 0)" };
        var world = new Option<int?>("--world") { Description = "number of workers; worker R scores shards R, R+W, R+2W, ..." };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var maxMember = CommonOptions.MaxMemberBytes();
        var decodeBudget = CommonOptions.DecodeBudgetMib();

        var cmd = new Command("score", "Score image-caption pairs with a model (SigLIP similarity); one parquet per shard, skip shards already scored");
        foreach (var o in new Option[] { input, scorer, model, output, batch, rank, world, device, dtype, maxMember, decodeBudget }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            var shards = ShardInputs.Resolve(r.GetValue(input)!, "score --input");
            WorkerRank worker;
            try { worker = WorkerRank.Resolve(r.GetValue(rank), r.GetValue(world)); }
            catch (ArgumentException e) { throw new CliUserException(e.Message); }
            string modelDir = r.GetValue(model)!;
            if (!Directory.Exists(modelDir)) throw new CliUserException($"--model: folder not found: {modelDir}");
            var torchDevice = CommonOptions.ToDevice(r.GetValue(device)!);
            using IPairScorer pairScorer = SiglipPairScorer.Load(modelDir, torchDevice, r.GetValue(dtype).ToScalarType());
            var options = new ScoreJobOptions
            {
                Shards = shards.Paths, OutputDir = r.GetValue(output)!, BatchSize = r.GetValue(batch), Rank = worker,
                MaxMemberBytes = r.GetValue(maxMember), ImageLimits = ImageLimits.Default.WithDecodeBudget(r.GetValue(decodeBudget)),
            };
            ScoreJobResult result = null!;
            LiveProgress.Run(AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn()),
                ctx =>
                {
                    var task = ctx.AddTask($"score shards (rank {worker.Rank} of {worker.World})", maxValue: Math.Max(1, (shards.Paths.Count + worker.World - 1 - worker.Rank) / worker.World));
                    var started = DateTime.UtcNow;
                    var progress = new SynchronousProgress<ScoreProgress>(p =>
                    {
                        double secs = Math.Max(1e-3, (DateTime.UtcNow - started).TotalSeconds);
                        task.Value = p.ShardsDone;
                        task.Description = $"score shards: {p.ShardsDone}/{p.ShardsTotal}, {p.Pairs:N0} pairs, {p.Pairs / secs:N1} pairs/s ({Markup.Escape(p.Shard)})";
                    });
                    result = ScoreJob.Run(pairScorer, options, shards.Lineage, progress);
                    task.Value = task.MaxValue;
                });
            Print(result, worker, options.OutputDir);
            return result.RankStats.IsBalanced ? 0 : 1;
        });
        return cmd;
    }

    private static void Print(ScoreJobResult r, WorkerRank worker, string outDir)
    {
        var table = new Table().Title("score summary").AddColumns("", "value");
        table.AddRow("worker", $"rank {worker.Rank} of {worker.World} ({Markup.Escape(worker.Source)})");
        table.AddRow("shards of this rank", $"{r.ShardsOfRank:N0} ({r.ShardsScored:N0} scored now, {r.ShardsAlreadyComplete:N0} already complete)");
        table.AddRow("input samples", $"{r.RankStats.Input:N0}");
        table.AddRow("scored", $"{r.RankStats.Kept:N0}");
        foreach (var (reason, n) in r.RankStats.Skipped) table.AddRow($"skipped: {Markup.Escape(reason)}", $"{n:N0}");
        table.AddRow("time", $"{r.Seconds:N1} s ({r.PairsScored / Math.Max(1e-3, r.Seconds):N1} pairs/s scored now)");
        table.AddRow("balanced (input = scored + skipped)", r.RankStats.IsBalanced ? "yes" : "[red]NO[/]");
        if (r.Summary?["columns"]?.AsObject() is { } columns)
            foreach (var (name, c) in columns)
                table.AddRow($"{Markup.Escape(name)}", c?["scored"] is null ? "" : $"{c["scored"]} scored, {c["missing"]} missing, median {(double?)c["median"]:F4}");
        AnsiConsole.Write(table);
        Console.WriteLine(r.Summary is null
            ? $"wrote this rank's score files to {outDir}; the rank that completes the last shard writes stats.json, the histograms and manifest.json"
            : $"wrote {outDir} (score parquets, stats.json, {r.Histograms.Count} histogram PNGs, manifest.json)");
    }
}
