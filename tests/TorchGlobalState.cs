namespace OpenQwen2VL.Tests;

/// <summary>
/// The one non-parallel collection of a test assembly, for test classes that call into libtorch: libtorch's default
/// generator (manual_seed), default dtype and thread settings are process-wide, so a test that seeds and then draws, builds
/// a TorchSharp module (constructors draw their initial weights from the global generator), changes a global setting,
/// counts live tensors, or compares bit-exact results must not run beside another such test.
/// xUnit 2 runs a collection with DisableParallelization alone, one test at a time, after the parallel collections have
/// finished. Every other test class is its own collection and runs in parallel with the others: a class without
/// <c>[Collection(TorchGlobalState.Name)]</c> must not touch libtorch at all (tokenizer, packing, images, metrics, config
/// parsing, argument checks that fail before a model is built).
/// Compiled into every test assembly by tests/Directory.Build.props (xUnit reads collection definitions from the test
/// assembly only).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalState
{
    public const string Name = "libtorch global state";
}
