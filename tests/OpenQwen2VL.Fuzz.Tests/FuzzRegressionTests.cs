using OpenQwen2VL.Tests;

namespace OpenQwen2VL.Fuzz.Tests;

/// <summary>
/// Every fuzz target on its seeds and on every input the fuzzers found (fuzz/regressions/TARGET/, kept by fuzz/run):
/// each must be accepted or refused the way the program reports bad input, never crash, hang or break an invariant.
/// </summary>
public sealed class FuzzRegressionTests
{
    static readonly FuzzEnvironment Env = new() { ReferenceDir = ReferenceFixtures.Dir };

    public static TheoryData<string> Targets() => [.. FuzzTargets.All(Env).Select(t => t.Name)];

    static string RegressionDir => Path.Combine(AppContext.BaseDirectory, "fuzz-regressions");

    /// <summary>The targets with kept inputs (a folder per target under fuzz/regressions/).</summary>
    public static TheoryData<string> TargetsWithFindings() =>
        [.. Directory.GetDirectories(RegressionDir).Select(d => Path.GetFileName(d)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeds_are_accepted(string name)
    {
        var target = FuzzTargets.Find(Env, name)!;
        using var scratch = new FuzzScratch();
        var seeds = target.Seeds(Env).ToList();
        Assert.NotEmpty(seeds);
        foreach (var (seed, data) in seeds)
        {
            Assert.Null(FuzzReplay.RunOne(target, data, scratch));
            // A seed the parser refuses would start the fuzzer from an error path only.
            Assert.True(ExpectedRefusal.LastRefusal is null, $"{name}/{seed} is refused: {ExpectedRefusal.LastRefusal}");
        }
    }

    [Theory]
    [MemberData(nameof(TargetsWithFindings))]
    public async Task Found_inputs_are_handled(string name)
    {
        var target = FuzzTargets.Find(Env, name);
        Assert.True(target is not null, $"fuzz/regressions/{name} names no fuzz target");
        string dir = Path.Combine(RegressionDir, name);
        Assert.NotEmpty(FuzzReplay.Inputs([dir]));
        using var scratch = new FuzzScratch();
        var findings = new List<string>();
        foreach (var path in FuzzReplay.Inputs([dir]))
        {
            var run = Task.Run(() => FuzzReplay.RunOne(target!, File.ReadAllBytes(path), scratch));
            // A hang the fuzzer found must end now: the test fails instead of hanging the suite.
            if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))) != run) findings.Add($"{Path.GetFileName(path)}: still running after 20 s");
            else if (await run is { } finding) findings.Add($"{Path.GetFileName(path)}: {finding}");
        }
        Assert.True(findings.Count == 0, string.Join("\n", findings));
    }
}
