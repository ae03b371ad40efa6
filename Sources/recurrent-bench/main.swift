import Recurrent
print("recurrent-bench")
