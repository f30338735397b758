using System.Diagnostics;
using System.Runtime.InteropServices;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Tests.Shards;
using static OpenQwen2VL.Tests.Integration.CliInvocation;

namespace OpenQwen2VL.Tests.Integration;

/// <summary>
/// Data parallel over MPI end to end: `oqvl train --nproc 2` (mpiexec, two processes, ZeRO-1), stopped after one step
/// and resumed, ends with the weights of the same job on one process (same global batch, twice the accumulation) up to
/// fp32 summation order. Needs MPICH's mpiexec (.ci/run installs it).
/// </summary>
[Collection(TorchGlobalState.Name)]
public sealed class MultiProcessTrainingTests : IDisposable
{
    private readonly TempDir _dir = new();
    private string P(string name) => _dir.File(name);

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Job =
    [
        "train", "--stage", "pretrain", "--preset", "tiny", "--max-steps", "2", "--set", "global_batch_sequences=4", "--set", "micro_batch_sequences=1",
        "--set", "activation_checkpointing=false", "--set", "checkpoint_every=1",
    ];

    /// <summary>Starts the built CLI (oqvl.dll next to the tests) as a child process, as a user would, its output read as it comes.</summary>
    private static (Process Process, Task<string> Output, Task<string> Error) Start(string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "oqvl.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        var p = System.Diagnostics.Process.Start(start)!;
        return (p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    /// <summary>Runs the CLI to its end; it must succeed within 3 minutes.</summary>
    private static void Process(params string[] args)
    {
        var (p, output, error) = Start(args);
        using var _ = p;
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); Assert.Fail($"oqvl {string.Join(' ', args)} ran over 3 minutes"); }
        Assert.True(p.ExitCode == 0, $"oqvl {string.Join(' ', args)} -> {p.ExitCode}\n{error.Result}\n{output.Result}");
    }

    private static Dictionary<string, float[]> Weights(string final) =>
        Directory.GetFiles(final, "*.safetensors", SearchOption.AllDirectories).SelectMany(f =>
        {
            using var file = SafetensorsFile.Open(f);
            return file.Entries.Where(e => e.DType == "F32").Select(e => (Key: Path.GetRelativePath(final, f) + ":" + e.Name, Values: file.ReadFloat32(e.Name))).ToList();
        }).ToDictionary(x => x.Key, x => x.Values);

    /// <param name="mixture">train on a weighted mixture of two packed folders (--data A=...:3,B=...:1), whose
    /// schedule of sources must come out the same split over ranks as on one</param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TwoRanksStoppedAndResumedEndWithTheWeightsOfOneRank(bool mixture)
    {
        Assert.True((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "mpiexec.mpich"))),
            "mpiexec.mpich is missing: apt-get install mpich libmpich-dev (.ci/run does it)");
        string data = PackedSynth("packed", seed: 7);
        if (mixture) data = $"a={data}:3,b={PackedSynth("packed-b", seed: 8)}:1";
        Succeeds([.. Job, "--data", data, "--out", P("one")]);
        Process([.. Job, "--data", data, "--out", P("two"), "--nproc", "2", "--stop-at", "1"]);
        Assert.False(Directory.Exists(Path.Combine(P("two"), RunLayout.Final)));
        Process([.. Job, "--data", data, "--out", P("two"), "--nproc", "2", "--resume"]);

        var one = Weights(Path.Combine(P("one"), RunLayout.Final));
        var two = Weights(Path.Combine(P("two"), RunLayout.Final));
        Assert.NotEmpty(one);
        Assert.Equal(one.Keys.Order(), two.Keys.Order());
        float worst = one.Max(kv => kv.Value.Zip(two[kv.Key], (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max());
        Assert.True(worst < 1e-5f, $"2 ranks differ from 1 rank by up to {worst}");
        // The 2-rank checkpoints hold one optimizer shard per rank.
        var last = Directory.GetDirectories(Path.Combine(P("two"), RunLayout.Checkpoints)).Order().Last();
        Assert.Equal(2, Directory.GetFiles(last, "optimizer.rank*.safetensors").Length);
    }

    /// <summary>A packed folder of 40 synthetic caption pairs drawn with <paramref name="seed"/>.</summary>
    private string PackedSynth(string name, int seed)
    {
        Succeeds("synth", "--out", P(name + "-synth"), "--pretrain", "40", "--sft", "0", "--eval-images", "1", "--shard-size", "40",
            "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Succeeds("pack", "--input", P(name + "-synth"), "--tokenizer", ReferenceFixtures.File("tokenizer.json"), "--out", P(name),
            "--capacity", "256", "--visual-tokens", "16");
        return P(name);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    /// <summary>
    /// SIGTERM to `oqvl train --nproc 2` (what a scheduler sends at a job's time limit): the launcher passes it through
    /// mpiexec to both ranks, they agree on the step to stop at, save one complete checkpoint (both optimizer shards),
    /// and the launcher exits 143 well before the collective timeout; --resume continues from that checkpoint.
    /// </summary>
    [Fact]
    public async Task SigtermToTheLauncherStopsBothRanksAtOneCheckpoint()
    {
        string[] job = [.. Job.Select(a => a == "2" ? "100000" : a), "--data", PackedSynth("packed", seed: 7), "--out", P("run"), "--nproc", "2"];
        var (p, output, error) = Start(job);
        using var _ = p;
        string checkpoints = Path.Combine(P("run"), RunLayout.Checkpoints);
        var clock = Stopwatch.StartNew();
        while (RunLayout.ListCheckpoints(checkpoints).Count == 0 && !p.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) await Task.Delay(100);
        Assert.True(RunLayout.ListCheckpoints(checkpoints).Count > 0, $"no checkpoint within {clock.Elapsed.TotalSeconds:F0} s\n{(p.HasExited ? await error : "")}");
        Assert.Equal(0, kill(p.Id, 15));
        if (!p.WaitForExit(TimeSpan.FromSeconds(90))) { p.Kill(entireProcessTree: true); Assert.Fail("the job did not stop within 90 s of SIGTERM"); }
        string log = await error + await output;
        Assert.True(p.ExitCode == 143, $"exit code {p.ExitCode} after SIGTERM, expected 143\n{log}");
        Assert.False(Directory.Exists(Path.Combine(P("run"), RunLayout.Final)));
        var (step, last) = RunLayout.ListCheckpoints(checkpoints)[^1];
        Assert.Equal(2, Directory.GetFiles(last, "optimizer.rank*.safetensors").Length);

        // The saved step is a real resume point: one more step from it ends normally.
        Process([.. job, "--resume", "--stop-at", (step + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(step + 1, RunLayout.ListCheckpoints(checkpoints)[^1].Step);
    }
}
