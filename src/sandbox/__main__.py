from passemarche.sandbox import main

main()
