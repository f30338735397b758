using System.Buffers.Binary;
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
/// framing and short forms). Nothing is executed: GLOBAL yields a <see cref="PickleGlobal"/> and REDUCE/NEWOBJ
/// call <c>construct</c>, which builds known types and returns null to get a <see cref="PickleObject"/>.
/// Values: dict → Dictionary&lt;object, object?&gt; (insertion order kept), list → List&lt;object?&gt;,
/// tuple → object?[], int → long (or BigInteger when it does not fit), float → double, str → string, bytes → byte[].
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
    private readonly Func<object?, object?> _persistentLoad;
    private readonly Func<PickleGlobal, object?[], object?> _construct;

    private PickleReader(byte[] data, Func<object?, object?> persistentLoad, Func<PickleGlobal, object?[], object?> construct)
    {
        _data = data;
        _persistentLoad = persistentLoad;
        _construct = construct;
    }

    /// <param name="persistentLoad">resolves BINPERSID/PERSID ids (torch: storages)</param>
    /// <param name="construct">builds an object from a callable and its arguments; null → a <see cref="PickleObject"/></param>
    public static object? Load(byte[] data, Func<object?, object?> persistentLoad, Func<PickleGlobal, object?[], object?>? construct = null) =>
        new PickleReader(data, persistentLoad, construct ?? ((_, _) => null)).Run();

    private object? Run()
    {
        while (true)
        {
            int at = _pos;
            byte op = U8();
            switch (op)
            {
                case 0x80: U8(); break;                                   // PROTO
                case 0x95: _pos += 8; break;                              // FRAME (length only; data is all in memory)
                case (byte)'.': return Pop();                             // STOP
                case (byte)'(': _marks.Push(_stack.Count); break;         // MARK
                case (byte)'0': Pop(); break;                             // POP
                case (byte)'1': PopMark(); break;                         // POP_MARK
                case (byte)'2': Push(_stack[^1]); break;                  // DUP
                case (byte)'N': Push(null); break;                        // NONE
                case 0x88: Push(true); break;                             // NEWTRUE
                case 0x89: Push(false); break;                            // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)U8()); break;                  // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long(U8())); break;                       // LONG1
                case 0x8b: Push(Long(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break; // LONG4
                case (byte)'I': Push(TextInt(Line())); break;             // INT (protocol 0)
                case (byte)'L': Push(TextInt(Line().TrimEnd('L'))); break; // LONG (protocol 0)
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINUNICODE
                case 0x8c: Push(Utf8(U8())); break;                       // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(checked((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8))))); break; // BINUNICODE8
                case (byte)'T': Push(Latin1(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // BINSTRING
                case (byte)'U': Push(Latin1(U8())); break;                // SHORT_BINSTRING
                case (byte)'B': Push(Take(checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray()); break; // BINBYTES
                case (byte)'C': Push(Take(U8()).ToArray()); break;        // SHORT_BINBYTES
                case (byte)'}': Push(new Dictionary<object, object?>()); break; // EMPTY_DICT
                case (byte)'d': { var items = PopMark(); var d = new Dictionary<object, object?>(); SetItems(d, items); Push(d); break; } // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(Top<Dictionary<object, object?>>(at), [k, v]); break; } // SETITEM
                case (byte)'u': { var items = PopMark(); SetItems(Top<Dictionary<object, object?>>(at), items); break; } // SETITEMS
                case (byte)']': Push(new List<object?>()); break;         // EMPTY_LIST
                case (byte)'l': Push(PopMark().ToList()); break;          // LIST
                case (byte)'a': { var v = Pop(); Top<List<object?>>(at).Add(v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); Top<List<object?>>(at).AddRange(items); break; } // APPENDS
                case (byte)')': Push(Array.Empty<object?>()); break;      // EMPTY_TUPLE
                case (byte)'t': Push(PopMark()); break;                   // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                  // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'c': { var module = Line(); var name = Line(); Push(new PickleGlobal(module, name)); break; } // GLOBAL
                case 0x93: { var name = (string)Pop()!; var module = (string)Pop()!; Push(new PickleGlobal(module, name)); break; } // STACK_GLOBAL
                case (byte)'R':                                           // REDUCE
                case 0x81:                                                // NEWOBJ
                    {
                        var args = Pop() as object?[] ?? throw Bad(at, "arguments are not a tuple");
                        var callable = Pop() as PickleGlobal ?? throw Bad(at, "callable is not a global");
                        Push(_construct(callable, args) ?? new PickleObject(callable, args));
                        break;
                    }
                case (byte)'b':                                           // BUILD
                    {
                        var state = Pop();
                        // Dicts (OrderedDict state_dicts) carry a `_metadata` attribute: not needed here.
                        if (_stack[^1] is PickleObject po) po.State = state;
                        break;
                    }
                case (byte)'q': _memo[U8()] = _stack[^1]; break;          // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = _stack[^1]; break; // LONG_BINPUT
                case (byte)'p': _memo[long.Parse(Line())] = _stack[^1]; break; // PUT
                case 0x94: _memo[_memo.Count] = _stack[^1]; break;        // MEMOIZE
                case (byte)'h': Push(Memo(U8(), at)); break;              // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), at)); break; // LONG_BINGET
                case (byte)'g': Push(Memo(long.Parse(Line()), at)); break; // GET
                case (byte)'Q': Push(_persistentLoad(Pop())); break;      // BINPERSID
                case (byte)'P': Push(_persistentLoad(Line())); break;     // PERSID
                default: throw Bad(at, $"unsupported opcode 0x{op:x2}");
            }
        }
    }

    private InvalidDataException Bad(int at, string why) => new($"pickle at byte {at}: {why}");

    private byte U8() => _pos < _data.Length ? _data[_pos++] : throw Bad(_pos, "unexpected end of data");

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || _pos + n > _data.Length) throw Bad(_pos, "unexpected end of data");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
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

    private object Long(int n)
    {
        var v = new BigInteger(Take(n), isUnsigned: false, isBigEndian: false);
        return v >= long.MinValue && v <= long.MaxValue ? (long)v : v;
    }

    private static object? TextInt(string s) => s switch
    {
        "00" => false,
        "01" => true,
        _ => long.TryParse(s, out var l) ? l : BigInteger.Parse(s),
    };

    private void Push(object? o) => _stack.Add(o);

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
        _stack.Count > 0 && _stack[^1] is T t ? t : throw Bad(at, $"expected a {typeof(T).Name} on the stack");

    private object? Memo(long key, int at) => _memo.TryGetValue(key, out var v) ? v : throw Bad(at, $"memo key {key} not set");

    private static void SetItems(Dictionary<object, object?> d, object?[] items)
    {
        for (int i = 0; i + 1 < items.Length; i += 2) d[items[i] ?? throw new InvalidDataException("pickle: None as a dict key")] = items[i + 1];
    }
}
