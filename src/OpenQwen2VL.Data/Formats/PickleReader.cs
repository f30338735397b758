using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace OpenQwen2VL.Data.Formats;

/// <summary>A class or function named in a pickle (GLOBAL / STACK_GLOBAL), e.g. torch._utils._rebuild_tensor_v2.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>An object the reader has no constructor for: the callable, its arguments and any BUILD state.</summary>
public sealed class PickleObject(PickleGlobal type, object?[] args)
{
    public PickleGlobal Type { get; } = type;
    public object?[] Args { get; } = args;
    public object? State { get; set; }
    public override string ToString() => $"{Type}({Args.Length} args)";
}

/// <summary>
/// A minimal pickle virtual machine for the opcodes <c>torch.save</c> emits (protocol 2, plus the protocol 3-5
/// framing and short forms). Nothing is executed: GLOBAL / STACK_GLOBAL / INST name a <see cref="PickleGlobal"/>,
/// refused unless the caller's <c>allowGlobal</c> accepts it (so <c>posix.system</c> never even becomes a value), and
/// REDUCE/NEWOBJ call <c>construct</c>, which builds known types and returns null to get a <see cref="PickleObject"/>.
/// Values: dict → Dictionary&lt;object, object?&gt; (insertion order kept), list → List&lt;object?&gt;,
/// tuple → object?[], int → long (or BigInteger when it does not fit), float → double, str → string, bytes → byte[].
/// Shared references (DUP, memo GET) stay shared objects; what the reader materialises and how deep containers nest
/// are bounded by <see cref="PickleLimits"/>, and every length is checked against the remaining bytes before it is
/// used. Every failure is an <see cref="InvalidDataException"/> naming the byte offset.
/// Written by hand (instead of Razorvine.Pickle, the library TorchSharp.PyBridge uses) because the small opcode
/// set is enough and keeps torch-free code from executing arbitrary class hooks; see PrismaticCheckpoint for the
/// measured comparison.
/// </summary>
public sealed class PickleReader
{
    private readonly byte[] _data;
    private int _pos;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();
    // Nesting depth of every container built so far (absent = a scalar, depth 0), by reference.
    private readonly Dictionary<object, int> _depth = new(ReferenceEqualityComparer.Instance);
    private readonly Func<object?, object?> _persistentLoad;
    private readonly Func<PickleGlobal, object?[], object?> _construct;
    private readonly Func<PickleGlobal, bool> _allowGlobal;
    private readonly PickleLimits _limits;
    private long _values;

    private PickleReader(byte[] data, Func<object?, object?> persistentLoad, Func<PickleGlobal, object?[], object?> construct,
        Func<PickleGlobal, bool> allowGlobal, PickleLimits limits)
    {
        _data = data;
        _persistentLoad = persistentLoad;
        _construct = construct;
        _allowGlobal = allowGlobal;
        _limits = limits;
    }

    /// <param name="persistentLoad">resolves BINPERSID/PERSID ids (torch: storages)</param>
    /// <param name="construct">builds an object from a callable and its arguments; null → a <see cref="PickleObject"/></param>
    /// <param name="allowGlobal">the globals the file may name; any other is refused where it appears (default: none)</param>
    /// <param name="limits">bounds on values and nesting (default <see cref="PickleLimits.Default"/>)</param>
    public static object? Load(byte[] data, Func<object?, object?> persistentLoad, Func<PickleGlobal, object?[], object?>? construct = null,
        Func<PickleGlobal, bool>? allowGlobal = null, PickleLimits? limits = null) =>
        new PickleReader(data, persistentLoad, construct ?? ((_, _) => null), allowGlobal ?? (_ => false), limits ?? PickleLimits.Default).Run();

    private object? Run()
    {
        while (true)
        {
            int at = _pos;
            byte op = U8();
            switch (op)
            {
                case 0x80: U8(); break;                                   // PROTO
                case 0x95: Take(8); break;                                // FRAME (length only; data is all in memory)
                case (byte)'.': return Pop();                             // STOP
                case (byte)'(': _marks.Push(_stack.Count); break;         // MARK
                case (byte)'0': Pop(); break;                             // POP
                case (byte)'1': PopMark(); break;                         // POP_MARK
                case (byte)'2': Push(Peek(at)); break;                    // DUP
                case (byte)'N': Push(null); break;                        // NONE
                case 0x88: Push(true); break;                             // NEWTRUE
                case 0x89: Push(false); break;                            // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)U8()); break;                  // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long(U8(), at)); break;                   // LONG1 (what Python writes for every int ≥ 2^31)
                case 0x8b: Push(Long(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), at)); break; // LONG4
                case (byte)'I': Push(TextInt(Line(), at)); break;         // INT (protocol 0)
                case (byte)'L': Push(TextInt(Line().TrimEnd('L'), at)); break; // LONG (protocol 0)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINUNICODE
                case 0x8c: Push(Utf8(U8())); break;                       // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(Length64())); break;                 // BINUNICODE8
                case (byte)'T': Push(Latin1(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // BINSTRING (signed length)
                case (byte)'U': Push(Latin1(U8())); break;                // SHORT_BINSTRING
                case (byte)'B': Push(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(U8()).ToArray()); break;        // SHORT_BINBYTES
                case 0x8e: Push(Take(Length64()).ToArray()); break;       // BINBYTES8
                case 0x96: Push(Take(Length64()).ToArray()); break;       // BYTEARRAY8 (a bytearray, read as bytes)
                case (byte)'}': Push(Container(new Dictionary<object, object?>(), [], at)); break; // EMPTY_DICT
                case (byte)'d': { var items = PopMark(); var d = Container(new Dictionary<object, object?>(), [], at); SetItems(d, items, at); Push(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Top<Dictionary<object, object?>>(at), [k, v], at); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(Top<Dictionary<object, object?>>(at), items, at); break; } // SETITEMS
                case (byte)']': Push(Container(new List<object?>(), [], at)); break; // EMPTY_LIST
                case (byte)'l': { var items = PopMark(); Push(Container(items.ToList(), items, at)); break; } // LIST
                case (byte)'a': { var v = Pop(); var list = Top<List<object?>>(at); Grow(list, [v], at); list.Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); var list = Top<List<object?>>(at); Grow(list, items, at); list.AddRange(items); break; } // APPENDS
                case (byte)')': Push(Container(Array.Empty<object?>(), [], at)); break; // EMPTY_TUPLE
                case (byte)'t': { var items = PopMark(); Push(Container(items, items, at)); break; } // TUPLE
                case 0x85: { var t = new[] { Pop() }; Push(Container(t, t, at)); break; } // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); var t = new[] { a, b }; Push(Container(t, t, at)); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); var t = new[] { a, b, c }; Push(Container(t, t, at)); break; } // TUPLE3
                case (byte)'c': { var module = Line(); var name = Line(); Push(Global(module, name, at)); break; } // GLOBAL
                case 0x93:                                                // STACK_GLOBAL
                    {
                        var name = Pop() as string ?? throw Bad(at, "STACK_GLOBAL name is not a string");
                        var module = Pop() as string ?? throw Bad(at, "STACK_GLOBAL module is not a string");
                        Push(Global(module, name, at));
                        break;
                    }
                case (byte)'i':                                           // INST: checked like GLOBAL, never instantiated
                    {
                        var g = Global(Line(), Line(), at);
                        throw Bad(at, $"unsupported opcode INST (class {PickleValueText.Quote(g.ToString())})");
                    }
                case (byte)'R':                                           // REDUCE
                case 0x81:                                                // NEWOBJ
                    {
                        var args = Pop() as object?[] ?? throw Bad(at, "arguments are not a tuple");
                        var callable = Pop() as PickleGlobal ?? throw Bad(at, "callable is not a global");
                        var built = _construct(callable, args);
                        if (built is null)
                        {
                            var o = new PickleObject(callable, args);
                            _depth[o] = CheckDepth(DepthOf(args) + 1, at);
                            built = o;
                        }
                        Push(built);
                        break;
                    }
                case (byte)'b':                                           // BUILD
                    {
                        var state = Pop();
                        // Dicts (OrderedDict state_dicts) carry a `_metadata` attribute: not needed here.
                        if (Peek(at) is PickleObject po) { Grow(po, [state], at); po.State = state; }
                        break;
                    }
                case (byte)'q': Memoize(U8(), at); break;                 // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at); break; // LONG_BINPUT
                case (byte)'p': Memoize(TextKey(at), at); break;          // PUT
                case 0x94: Memoize(_memo.Count, at); break;               // MEMOIZE
                case (byte)'h': Push(Memo(U8(), at)); break;              // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at)); break; // LONG_BINGET
                case (byte)'g': Push(Memo(TextKey(at), at)); break;       // GET
                case (byte)'Q': Push(_persistentLoad(Pop())); break;      // BINPERSID
                case (byte)'P': Push(_persistentLoad(Line())); break;     // PERSID
                default: throw Bad(at, $"unsupported opcode 0x{op:x2}");
            }
        }
    }

    private static InvalidDataException Bad(int at, string why) => new($"pickle at byte {at}: {why}");

    private byte U8() => _pos < _data.Length ? _data[_pos++] : throw Bad(_pos, "unexpected end of data");

    /// <summary>The next <paramref name="n"/> bytes; a length beyond the data fails here, before anything is allocated for it.</summary>
    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Bad(_pos, $"a length of {n} bytes runs past the end of the data ({_data.Length - _pos} left)");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    /// <summary>An 8-byte unsigned length (the *8 opcodes); one beyond 2^63 is reported like any other overlong length.</summary>
    private long Length64()
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        return n > long.MaxValue ? -1 : (long)n;
    }

    private string Utf8(long n) => Encoding.UTF8.GetString(Take(n));
    private string Latin1(long n) => Encoding.Latin1.GetString(Take(n));

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Bad(_pos, "unterminated line");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private PickleGlobal Global(string module, string name, int at)
    {
        var g = new PickleGlobal(module, name);
        if (!_allowGlobal(g)) throw Bad(at, $"refusing global {PickleValueText.Quote(g.ToString())}: not one this file type may name (nothing is executed)");
        return g;
    }

    /// <summary>LONG1/LONG4: two's-complement little-endian; a value that fits Int64 is a long like BININT's, so sizes and offsets ≥ 2^31 work.</summary>
    private object Long(int n, int at)
    {
        if (n > _limits.MaxIntegerBytes) throw Bad(at, $"an integer of {n} bytes (limit {_limits.MaxIntegerBytes})");
        var v = new BigInteger(Take(n), isUnsigned: false, isBigEndian: false);
        // (object) matters: without it the conditional's type is BigInteger and every value would stay one.
        return v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
    }

    private object? TextInt(string s, int at)
    {
        if (s is "00") return false;
        if (s is "01") return true;
        if (s.Length > _limits.MaxIntegerBytes) throw Bad(at, $"an integer of {s.Length} digits (limit {_limits.MaxIntegerBytes})");
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        return BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b) ? b : throw Bad(at, $"'{PickleValueText.Quote(s)}' is not an integer");
    }

    private long TextKey(int at) =>
        long.TryParse(Line(), NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : throw Bad(at, "memo key is not a non-negative integer");

    /// <summary>Counts one materialised value (a push, a container element, a memo entry) against <see cref="PickleLimits.MaxValues"/>.</summary>
    private void Count(long n, int at)
    {
        _values += n;
        if (_values > _limits.MaxValues) throw Bad(at, $"more than {_limits.MaxValues} values (shared references counted each time): refusing to expand further");
    }

    private void Push(object? o)
    {
        Count(1, _pos);
        _stack.Add(o);
    }

    private object? Peek(int at) =>
        _stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek()) ? throw Bad(at, "stack underflow") : _stack[^1];

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count == _marks.Peek())) throw Bad(_pos, "stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw Bad(_pos, "no MARK");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private T Top<T>(int at) where T : class =>
        Peek(at) is T t ? t : throw Bad(at, $"expected a {typeof(T).Name} on the stack");

    private int DepthOf(object? o) => o is not null && _depth.TryGetValue(o, out var d) ? d : 0;

    private int CheckDepth(int depth, int at) =>
        depth <= _limits.MaxDepth ? depth : throw Bad(at, $"containers nested more than {_limits.MaxDepth} deep");

    /// <summary>Registers a new container holding <paramref name="items"/>: counted, and one level deeper than its deepest item.</summary>
    private T Container<T>(T container, object?[] items, int at) where T : class
    {
        Count(items.Length, at);
        int deepest = 0;
        foreach (var item in items) deepest = Math.Max(deepest, DepthOf(item));
        _depth[container] = CheckDepth(deepest + 1, at);
        return container;
    }

    /// <summary>Items added to an existing container (APPEND, SETITEMS, BUILD): counted, and its depth raised if they are deeper.</summary>
    private void Grow(object container, object?[] items, int at)
    {
        Count(items.Length, at);
        int depth = DepthOf(container);
        foreach (var item in items) depth = Math.Max(depth, DepthOf(item) + 1);
        // A container that already sits inside another is not re-walked here (that would be quadratic); the
        // walkers of the result bound their own depth as well (PickleValueText).
        _depth[container] = CheckDepth(depth, at);
    }

    private void Memoize(long key, int at)
    {
        Count(1, at);
        _memo[key] = Peek(at);
    }

    private object? Memo(long key, int at) => _memo.TryGetValue(key, out var v) ? v : throw Bad(at, $"memo key {key} not set");

    private void SetItems(Dictionary<object, object?> d, object?[] items, int at)
    {
        if (items.Length % 2 != 0) throw Bad(at, $"odd number of dict items ({items.Length})");
        Grow(d, items, at);
        for (int i = 0; i < items.Length; i += 2) d[items[i] ?? throw Bad(at, "None as a dict key")] = items[i + 1];
    }
}
