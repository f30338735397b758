using OpenQwen2VL.Evaluation.Vqa;

namespace OpenQwen2VL.Tests.Evaluation;

/// <summary>
/// Draws against CPython 3.11's <c>random.Random(seed).sample(range(n), k)</c> (values printed by python3), covering
/// both of its sample algorithms (pool copy for small n, index set for large n) and a seed wider than 32 bits.
/// </summary>
public class PythonRandomTests
{
    [Theory]
    [InlineData(21, 1000, new[] { 168, 428, 706, 650, 288, 490, 863, 221 })]
    [InlineData(21, 10, new[] { 2, 6, 8, 5 })]
    [InlineData(21, 214354, new[] { 43240, 109574, 180818, 109584, 166461, 73729, 125593, 56626 })] // VQAv2 val's size, 8-shot
    [InlineData(7, 30, new[] { 10, 4, 12, 20, 1, 2 })]
    [InlineData(1099511627781, 100000, new[] { 66110, 67753, 35206 })] // 2**40 + 5
    public void SampleEqualsCPython(long seed, int n, int[] expected)
    {
        var population = Enumerable.Range(0, n).ToArray();
        Assert.Equal(expected, new PythonRandom(seed).Sample(population, expected.Length));
    }
}
