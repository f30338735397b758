namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// CPython's <c>random.Random(seed)</c> for the draws reference harnesses make: the Mersenne Twister (MT19937) seeded
/// from a non-negative int as CPython does (<c>init_by_array</c> over its 32-bit words), <c>getrandbits(k)</c> for
/// k ≤ 32, <c>_randbelow</c> by rejection, and <c>sample(population, k)</c> with both of its algorithms, so the same
/// seed picks the same items as Python.
/// </summary>
public sealed class PythonRandom
{
    private const int N = 624, M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _index = N;

    public PythonRandom(long seed)
    {
        // random.seed(int): the absolute value's 32-bit words, least significant first (at least one).
        ulong n = (ulong)Math.Abs(seed);
        uint[] key = n >> 32 == 0 ? [(uint)n] : [(uint)n, (uint)(n >> 32)];
        InitByArray(key);
    }

    private void InitGenrand(uint s)
    {
        _mt[0] = s;
        for (int i = 1; i < N; i++) _mt[i] = unchecked(1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30)) + (uint)i);
        _index = N;
    }

    private void InitByArray(uint[] key)
    {
        InitGenrand(19650218u);
        int i = 1, j = 0;
        for (int k = Math.Max(N, key.Length); k > 0; k--)
        {
            _mt[i] = unchecked((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j);
            i++; j++;
            if (i >= N) { _mt[0] = _mt[N - 1]; i = 1; }
            if (j >= key.Length) j = 0;
        }
        for (int k = N - 1; k > 0; k--)
        {
            _mt[i] = unchecked((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1566083941u)) - (uint)i);
            i++;
            if (i >= N) { _mt[0] = _mt[N - 1]; i = 1; }
        }
        _mt[0] = 0x80000000u;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            for (int k = 0; k < N; k++)
            {
                uint y = (_mt[k] & 0x80000000u) | (_mt[(k + 1) % N] & 0x7fffffffu);
                _mt[k] = _mt[(k + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
            }
            _index = 0;
        }
        uint x = _mt[_index++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680u;
        x ^= (x << 15) & 0xefc60000u;
        x ^= x >> 18;
        return x;
    }

    /// <summary><c>getrandbits(k)</c> for 1 ≤ k ≤ 32.</summary>
    public uint GetRandBits(int k) =>
        k is >= 1 and <= 32 ? NextUInt32() >> (32 - k) : throw new ArgumentOutOfRangeException(nameof(k), "1..32 bits");

    /// <summary><c>_randbelow(n)</c>: uniform in [0, n) by rejection over n's bit length.</summary>
    public int RandBelow(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        int bits = 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n);
        uint r = GetRandBits(bits);
        while (r >= (uint)n) r = GetRandBits(bits);
        return (int)r;
    }

    /// <summary><c>sample(population, k)</c>: k distinct items in selection order.</summary>
    public IReadOnlyList<T> Sample<T>(IReadOnlyList<T> population, int k)
    {
        int n = population.Count;
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), "sample larger than population or negative");
        var result = new T[k];
        // CPython picks a pool copy for small populations and a set of taken indices otherwise; both must match.
        int setSize = 21;
        if (k > 5) setSize += (int)Math.Pow(4, Math.Ceiling(Math.Log(k * 3) / Math.Log(4)));
        if (n <= setSize)
        {
            var pool = population.ToArray();
            for (int i = 0; i < k; i++)
            {
                int j = RandBelow(n - i);
                result[i] = pool[j];
                pool[j] = pool[n - i - 1];
            }
        }
        else
        {
            var selected = new HashSet<int>();
            for (int i = 0; i < k; i++)
            {
                int j = RandBelow(n);
                while (!selected.Add(j)) j = RandBelow(n);
                result[i] = population[j];
            }
        }
        return result;
    }
}
