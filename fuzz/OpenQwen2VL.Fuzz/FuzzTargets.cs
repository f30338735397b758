using OpenQwen2VL.Fuzz.Targets;

namespace OpenQwen2VL.Fuzz;

/// <summary>Every fuzz target, by name.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All(FuzzEnvironment env) =>
    [
        new SafetensorsTarget(),
        new PickleTarget(),
        new TorchZipTarget(),
        new TarTarget(),
        new TokenizerJsonTarget(),
        new LlavaJsonTarget(env),
        new VqaJsonTarget(),
        new BenchmarkJsonTarget(),
        new McTsvTarget(),
        new ImageHeaderTarget(),
    ];

    public static IFuzzTarget? Find(FuzzEnvironment env, string name) =>
        All(env).FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
}
